/*
 * pt_xattrmap.c - parser and matcher of --xattrmap rules.
 *
 * Syntax (doc/xattr-mapping.md of the Rust virtiofsd, QEMU 7.2's
 * docs/tools/virtiofsd.rst): rules are separated by optional blanks; the
 * first non-blank character of a rule is its separator, which must end
 * every field of that rule:
 *     <s>type<s>scope<s>key<s>prepend<s>     type: prefix ok bad unsupported
 *                                           scope: client server all
 *     <s>map<s>key<s>prepend<s>              at most one, the last rule
 *
 * Matching: a client (guest) name matches a rule of scope client/all whose
 * key is a prefix of it; a server (host) name matches a rule of scope
 * server/all whose prepend is a prefix of it.  The first match decides:
 *   prefix       guest -> host: prepend + name; host -> guest: strip prepend
 *   ok           the name passes unchanged
 *   bad          guest: EPERM; host: hidden from LISTXATTR
 *   unsupported  guest: ENOTSUP; host: hidden
 * No match: EPERM for a guest name, hidden for a host name (QEMU's
 * behaviour; the Rust daemon panics there).
 *
 * `map` expands, as documented, into
 *   key empty:  :prefix:all::P:  :bad:all:::
 *   else:       :prefix:all:K:P: :bad:server::K: :bad:client:P:: :ok:all:::
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/limits.h>

#include "pt_xattrmap.h"

#define XM_MAX_RULES 1024

enum xm_type { XM_PREFIX, XM_OK, XM_BAD, XM_UNSUPPORTED, XM_MAP };

#define XM_CLIENT 1u
#define XM_SERVER 2u

struct xm_rule {
	enum xm_type type;
	unsigned scope;
	char *key;
	char *prepend;
	size_t klen, plen;
};

struct pt_xattrmap {
	struct xm_rule *r;
	size_t n, cap;
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/* Free a map (NULL is ignored). */
void pt_xattrmap_free(struct pt_xattrmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->r[i].key);
		free(m->r[i].prepend);
	}
	free(m->r);
	free(m);
}

/* Number of rules after expansion. */
size_t pt_xattrmap_nrules(const struct pt_xattrmap *m)
{
	return m ? m->n : 0;
}

static int add_rule(struct pt_xattrmap *m, enum xm_type type, unsigned scope,
		    const char *key, size_t klen, const char *prepend,
		    size_t plen)
{
	struct xm_rule *r;

	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;
		struct xm_rule *nr = realloc(m->r, cap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		m->r = nr;
		m->cap = cap;
	}
	r = &m->r[m->n];
	r->type = type;
	r->scope = scope;
	r->klen = klen;
	r->plen = plen;
	r->key = strndup(key, klen);
	r->prepend = strndup(prepend, plen);
	if (!r->key || !r->prepend) {
		free(r->key);
		free(r->prepend);
		return -ENOMEM;
	}
	m->n++;
	return 0;
}

/* The map shorthand, expanded (see the top of the file). */
static int add_map(struct pt_xattrmap *m, const char *k, size_t kl,
		   const char *p, size_t pl)
{
	int r = add_rule(m, XM_PREFIX, XM_CLIENT | XM_SERVER, k, kl, p, pl);

	if (r)
		return r;
	if (!kl)
		return add_rule(m, XM_BAD, XM_CLIENT | XM_SERVER, "", 0, "", 0);
	r = add_rule(m, XM_BAD, XM_SERVER, "", 0, k, kl);
	if (!r)
		r = add_rule(m, XM_BAD, XM_CLIENT, p, pl, "", 0);
	if (!r)
		r = add_rule(m, XM_OK, XM_CLIENT | XM_SERVER, "", 0, "", 0);
	return r;
}

/* Read one field ending with sep at *pp; advance past the separator. */
static int next_field(const char **pp, char sep, const char **f, size_t *len)
{
	const char *e = strchr(*pp, sep);

	if (!e)
		return -EINVAL;
	*f = *pp;
	*len = (size_t)(e - *pp);
	*pp = e + 1;
	return 0;
}

static bool field_is(const char *f, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(f, word, len) == 0;
}

/* Parse the rule string; see pt_xattrmap.h. */
struct pt_xattrmap *pt_xattrmap_parse(const char *rules, char *err,
				      size_t errlen)
{
	static const char *const types[] = { "prefix", "ok", "bad",
					     "unsupported", "map" };
	struct pt_xattrmap *m;
	const char *p = rules;
	bool seen_map = false;
	unsigned nrule = 0;

	seterr(err, errlen, "out of memory");
	if (!rules) {
		seterr(err, errlen, "no rules");
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	for (;;) {
		const char *f[4];
		size_t fl[4], nf;
		enum xm_type type;
		unsigned scope = XM_CLIENT | XM_SERVER;
		int t = -1, r;
		char sep;

		while (is_blank(*p))
			p++;
		if (!*p)
			break;
		nrule++;
		if (seen_map) {
			seterr(err, errlen, "rule %u: the map rule must be "
			       "the last rule", nrule - 1);
			goto fail;
		}
		if (nrule > XM_MAX_RULES) {
			seterr(err, errlen, "more than %d rules", XM_MAX_RULES);
			goto fail;
		}
		sep = *p++;
		if (next_field(&p, sep, &f[0], &fl[0]))
			goto incomplete;
		for (int i = 0; i < 5; i++)
			if (field_is(f[0], fl[0], types[i]))
				t = i;
		if (t < 0) {
			seterr(err, errlen, "rule %u: unknown type '%.*s' "
			       "(prefix, ok, bad, unsupported, map)", nrule,
			       (int)(fl[0] > 32 ? 32 : fl[0]), f[0]);
			goto fail;
		}
		type = (enum xm_type)t;
		nf = type == XM_MAP ? 3 : 4;
		for (size_t i = 1; i < nf; i++)
			if (next_field(&p, sep, &f[i], &fl[i]))
				goto incomplete;
		if (type != XM_MAP) {
			if (field_is(f[1], fl[1], "client"))
				scope = XM_CLIENT;
			else if (field_is(f[1], fl[1], "server"))
				scope = XM_SERVER;
			else if (!field_is(f[1], fl[1], "all")) {
				seterr(err, errlen, "rule %u: unknown scope "
				       "'%.*s' (client, server, all)", nrule,
				       (int)(fl[1] > 32 ? 32 : fl[1]), f[1]);
				goto fail;
			}
		}
		if (fl[nf - 2] > XATTR_NAME_MAX || fl[nf - 1] > XATTR_NAME_MAX) {
			seterr(err, errlen, "rule %u: key or prepend longer "
			       "than %d bytes", nrule, XATTR_NAME_MAX);
			goto fail;
		}
		if (type == XM_MAP) {
			seen_map = true;
			r = add_map(m, f[1], fl[1], f[2], fl[2]);
		} else {
			r = add_rule(m, type, scope, f[2], fl[2], f[3], fl[3]);
		}
		if (r) {
			seterr(err, errlen, "out of memory");
			goto fail;
		}
	}
	if (!m->n) {
		seterr(err, errlen, "no rules");
		goto fail;
	}
	return m;

incomplete:
	seterr(err, errlen, "rule %u: incomplete (every field must end with "
	       "the rule's separator)", nrule);
fail:
	pt_xattrmap_free(m);
	return NULL;
}

static const struct xm_rule *find(const struct pt_xattrmap *m, unsigned scope,
				  const char *name)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct xm_rule *r = &m->r[i];

		if (!(r->scope & scope))
			continue;
		if (scope == XM_CLIENT ? !strncmp(name, r->key, r->klen) :
					 !strncmp(name, r->prepend, r->plen))
			return r;
	}
	return NULL;
}

/* Guest name -> host name; see pt_xattrmap.h. */
int pt_xattrmap_to_host(const struct pt_xattrmap *m, const char *name,
			char *out, size_t outlen)
{
	const struct xm_rule *r = find(m, XM_CLIENT, name);
	size_t nl = strlen(name);

	if (!r)
		return -EPERM;
	switch (r->type) {
	case XM_BAD:
		return -EPERM;
	case XM_UNSUPPORTED:
		return -ENOTSUP;
	case XM_OK:
		if (nl >= outlen || nl > XATTR_NAME_MAX)
			return -ERANGE;
		memcpy(out, name, nl + 1);
		return 0;
	case XM_PREFIX:
	case XM_MAP:
	default:
		if (r->plen + nl >= outlen || r->plen + nl > XATTR_NAME_MAX)
			return -ERANGE;
		memcpy(out, r->prepend, r->plen);
		memcpy(out + r->plen, name, nl + 1);
		return 0;
	}
}

/* Host name -> guest name or NULL (hidden); see pt_xattrmap.h. */
const char *pt_xattrmap_to_guest(const struct pt_xattrmap *m,
				 const char *name)
{
	const struct xm_rule *r = find(m, XM_SERVER, name);

	if (!r || r->type == XM_BAD || r->type == XM_UNSUPPORTED)
		return NULL;
	if (r->type == XM_OK)
		return name;
	return name[r->plen] ? name + r->plen : NULL;
}

/* Rewrite a LISTXATTR result in place; see pt_xattrmap.h. */
size_t pt_xattrmap_list(const struct pt_xattrmap *m, char *buf, size_t len,
			bool (*keep)(const char *guest_name, void *arg),
			void *arg)
{
	size_t rd = 0, wr = 0;

	while (rd < len) {
		char *nul = memchr(buf + rd, '\0', len - rd);
		const char *g;
		size_t gl;

		if (!nul)
			break;
		g = buf + rd;
		rd = (size_t)(nul - buf) + 1;
		if (!*g)
			continue;
		if (m)
			g = pt_xattrmap_to_guest(m, g);
		if (!g || (keep && !keep(g, arg)))
			continue;
		gl = strlen(g) + 1;
		/* g is a suffix of a name at or after wr: never overlaps
		 * anything not yet read. */
		memmove(buf + wr, g, gl);
		wr += gl;
	}
	return wr;
}
