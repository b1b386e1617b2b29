/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ext_sasl - the table msmtp-sasl.so exports (ext.h): authentication
 * with GNU SASL, loaded only by a run that authenticates. */
#include "config.h"
#include "ext.h"

static const struct ext_ops ext_sasl_table = {
	.abi = EXT_ABI,
	.part = EXT_PART_SASL,
	.size = sizeof(struct ext_ops),
	.version = PACKAGE_VERSION,
	.sasl_choose = sasl_choose,
	.sasl_start = sasl_start,
	.sasl_initial = sasl_initial,
	.sasl_step = sasl_step,
	.sasl_free_response = sasl_free_response,
	.sasl_end = sasl_end,
};

__attribute__((visibility("default")))
const struct ext_ops *msmtp_ext_ops(void)
{
	return &ext_sasl_table;
}
