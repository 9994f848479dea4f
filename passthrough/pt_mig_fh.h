/*
 * pt_mig_fh.h - --migration-mode=file-handles helpers (pt_mig_fh.c),
 * used by pt_mig_save.c and pt_mig_load.c.
 */
#ifndef PT_MIG_FH_H
#define PT_MIG_FH_H

#include <stddef.h>
#include <stdint.h>

struct pt_fs;
struct pt_inode;

/* Bytes of one record: i32 handle type (little-endian) + handle. */
#define PT_MIGFH_MAX (4 + PT_FH_MAX)

/*
 * Source: the record of inode in into buf (PT_MIGFH_MAX bytes) and its
 * mount id into *mnt_id (the mount is registered with the fs).  Returns
 * the record's length or a negative errno.
 */
int pt_migfh_record(struct pt_fs *fs, struct pt_inode *in, uint64_t *mnt_id,
		    uint8_t *buf);

/*
 * Source: the path, relative to the shared dir (root_path, as
 * /proc/self/fd shows it), of the topmost directory of the shared tree on
 * mount mnt_id, into out (NUL-terminated; "" for the shared dir's own
 * mount).  Its length, or a negative errno.
 */
int pt_migfh_mount_path(struct pt_fs *fs, const char *root_path,
			size_t root_len, uint64_t mnt_id, char *out,
			size_t cap);

/* Destination: 0 when this thread has CAP_DAC_READ_SEARCH, else -EPERM
 * (logged: what to do about it). */
int pt_migfh_check_cap(void);

/* Destination: open path (len bytes, relative) beneath the shared dir as
 * a mount fd for open_by_handle_at.  fd or negative errno. */
int pt_migfh_open_mount(struct pt_fs *fs, const char *path, uint16_t len);

#endif
