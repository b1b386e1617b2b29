/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ext_lib - the library calls of ext.h that live in the module (and in
 * libcore.a for the tests): the IDN conversion. */
#include "config.h"
#include "ext.h"

#include <idn2.h>

/* 1 when s holds a byte outside ASCII: only then is there an IDN to
 * convert (an ASCII name is used as written, as before the module). */
static int ext_lib_has_8bit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

int ext_idn_to_ascii(const char *in, char **out, const char **why)
{
	int rc;

	*out = NULL;
	*why = NULL;
	if (!ext_lib_has_8bit(in))
		return EXT_IDN_OK;
	rc = idn2_to_ascii_8z(in, out, IDN2_NONTRANSITIONAL);
	if (rc == IDN2_OK)
		return EXT_IDN_OK;
	idn2_free(*out);
	*out = NULL;
	if (rc == IDN2_MALLOC) {
		*why = "out of memory";
		return EXT_IDN_NOMEM;
	}
	*why = idn2_strerror(rc);
	return EXT_IDN_BAD;
}
