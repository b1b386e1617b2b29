/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ext_http - the table msmtp-http.so exports (ext.h): OAuth2 and
 * --configure, the code that needs libcurl, json-c and expat. */
#include "config.h"
#include "ext.h"

#include "discover.h"
#include "oauth.h"

static const struct ext_ops ext_http_table = {
	.abi = EXT_ABI,
	.part = EXT_PART_HTTP,
	.size = sizeof(struct ext_ops),
	.version = PACKAGE_VERSION,
	.oauth_token = oauth_token,
	.oauth_login = oauth_login,
	.oauth_status = oauth_status,
	.discover_configure = discover_configure,
};

__attribute__((visibility("default")))
const struct ext_ops *msmtp_ext_ops(void)
{
	return &ext_http_table;
}
