/*
 * pt_xattrmap.h - xattr name mapping (--xattrmap), the rule syntax of the
 * Rust virtiofsd (doc/xattr-mapping.md) and of QEMU's C virtiofsd.
 *
 * A map is an ordered list of rules `:type:scope:key:prepend:` (the first
 * non-blank character of each rule is its separator); the first rule that
 * matches decides.  `:map:key:prepend:` is shorthand for several rules and
 * must be the last rule.  The module is pure: no file system access, no
 * logging, safe to share between threads once built.
 */
#ifndef PT_XATTRMAP_H
#define PT_XATTRMAP_H

#include <stdbool.h>
#include <stddef.h>

struct pt_xattrmap;

/*
 * Parse a rule string.  Returns the map, or NULL with a one-line reason
 * (naming the rule number) in err (errlen bytes, may be 0) when the
 * string is malformed or empty, or allocation fails.
 */
struct pt_xattrmap *pt_xattrmap_parse(const char *rules, char *err,
				      size_t errlen);

/* Free a map (NULL is ignored). */
void pt_xattrmap_free(struct pt_xattrmap *m);

/* Number of rules after expansion of `map` (for tests and logs). */
size_t pt_xattrmap_nrules(const struct pt_xattrmap *m);

/*
 * Map a name from the guest (GET/SET/REMOVEXATTR) to the host name.
 * out: outlen bytes for the NUL-terminated result.
 * Returns 0, -EPERM (a `bad` rule, or no rule matched), -ENOTSUP (an
 * `unsupported` rule) or -ERANGE (the result does not fit outlen or is
 * longer than XATTR_NAME_MAX).
 */
int pt_xattrmap_to_host(const struct pt_xattrmap *m, const char *name,
			char *out, size_t outlen);

/*
 * Map one host name (from LISTXATTR) to the guest's name.  Returns a
 * pointer into name (prefix rules strip their prefix) or NULL when the
 * guest must not see it (`bad`, `unsupported`, no rule matched, or
 * nothing left after stripping).
 */
const char *pt_xattrmap_to_guest(const struct pt_xattrmap *m,
				 const char *name);

/*
 * Rewrite a LISTXATTR result in place: buf holds len bytes of
 * NUL-terminated host names (a trailing unterminated piece is dropped).
 * keep (may be NULL) filters the guest names afterwards (return false to
 * hide).  Returns the new length (never more than len).
 */
size_t pt_xattrmap_list(const struct pt_xattrmap *m, char *buf, size_t len,
			bool (*keep)(const char *guest_name, void *arg),
			void *arg);

#endif
