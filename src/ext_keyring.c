/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ext_keyring - the table msmtp-keyring.so exports (ext.h): the password
 * lookup in the keyring with libsecret. */
#include "config.h"
#include "ext.h"

static const struct ext_ops ext_keyring_table = {
	.abi = EXT_ABI,
	.part = EXT_PART_KEYRING,
	.size = sizeof(struct ext_ops),
	.version = PACKAGE_VERSION,
	.keyring_lookup = keyring_lookup,
};

__attribute__((visibility("default")))
const struct ext_ops *msmtp_ext_ops(void)
{
	return &ext_keyring_table;
}
