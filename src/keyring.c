/* SPDX-License-Identifier: GPL-3.0-or-later */
/* keyring - the password lookup in the desktop keyring through libsecret
 * (secret.h's keyring_lookup), linked only into msmtp-keyring.so: a
 * build with libsecret would otherwise load libsecret, GLib, GIO,
 * libgcrypt and a dozen more libraries on every run (+5 ms a plain send),
 * for a lookup only a run without password or passwordeval makes. */
#include "config.h"
#include "secret.h"

#include <string.h>
#include <libsecret/secret.h>

/* msmtp's schema, so existing keyring entries are found; the struct's
 * reserved fields stay zero */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const SecretSchema keyring_schema = {
	.name = "de.marlam.msmtp.password",
	.flags = SECRET_SCHEMA_DONT_MATCH_NAME,
	.attributes = {
		{ "host", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ "service", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ "user", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ NULL, 0 }
	}
};
#pragma GCC diagnostic pop

int keyring_lookup(const char *host, const char *user, struct secret **out)
{
	gchar *pw = secret_password_lookup_sync(&keyring_schema, NULL, NULL,
						"host", host, "service", "smtp",
						"user", user ? user : "",
						NULL);

	if (pw == NULL)
		return 0;
	*out = secret_new(pw, strlen(pw));
	secret_password_free(pw);
	return *out ? 1 : -1;
}
