/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ext_mod - the table msmtp-ext.so exports (ext.h): TLS and IDN; its only visible
 * symbol; everything else in the module is built hidden, so its own calls
 * never reach the binary's stubs of the same names. */
#include "config.h"
#include "ext.h"

static const struct ext_ops ext_mod_table = {
	.abi = EXT_ABI,
	.size = sizeof(struct ext_ops),
	.version = PACKAGE_VERSION,
	.part = EXT_PART_TLS,
	.idn_to_ascii = ext_idn_to_ascii,
	.tls_start = tls_start,
	.tls_peer_spoke_plain = tls_peer_spoke_plain,
	.tls_describe = tls_describe,
	.tls_channel_binding = tls_channel_binding,
};

__attribute__((visibility("default")))
const struct ext_ops *msmtp_ext_ops(void)
{
	return &ext_mod_table;
}
