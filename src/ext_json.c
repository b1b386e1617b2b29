/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ext_json - the table msmtp-json.so exports (ext.h): the JSON lines of
 * mailq --json and logfile_format json, built with json-c. */
#include "config.h"
#include "ext.h"

static const struct ext_ops ext_json_table = {
	.abi = EXT_ABI,
	.part = EXT_PART_JSON,
	.size = sizeof(struct ext_ops),
	.version = PACKAGE_VERSION,
	.jsonl_object_new = jsonl_object_new,
	.jsonl_array_new = jsonl_array_new,
	.jsonl_free = jsonl_free,
	.jsonl_array_add = jsonl_array_add,
	.jsonl_add = jsonl_add,
	.jsonl_add_str = jsonl_add_str,
	.jsonl_add_int = jsonl_add_int,
	.jsonl_add_bool = jsonl_add_bool,
	.jsonl_add_null = jsonl_add_null,
	.jsonl_add_time = jsonl_add_time,
	.jsonl_array_add_str = jsonl_array_add_str,
	.jsonl_line = jsonl_line,
};

__attribute__((visibility("default")))
const struct ext_ops *msmtp_ext_ops(void)
{
	return &ext_json_table;
}
