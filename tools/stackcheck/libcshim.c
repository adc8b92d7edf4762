// libcshim: what OpenBSD's libc does to a thread stack, for stackcheck -l
// (--openbsd-libc). stackcheck models OpenBSD's kernel; this shim, put in
// front of the program's libc with LD_PRELOAD, models the one libc habit
// that decides whether a program runs there: since OpenBSD 6.4,
// pthread_attr_setstack(3) remaps the caller's region as MAP_STACK. Its
// mmap is a real system call, so stackcheck's model sees the region become
// MAP_STACK, as OpenBSD's kernel would, and a thread started on a malloc'd
// stack then runs, as it does on OpenBSD.
//
// After OpenBSD's lib/librthread/rthread_attr.c:
//   - a size below PTHREAD_STACK_MIN, or a region not aligned to it, is
//     EINVAL (OpenBSD's PTHREAD_STACK_MIN is one amd64 page, 4096);
//   - every page is read and written first, so an unmapped or read-only
//     region faults here, in the caller, as it does there;
//   - the region is replaced by fresh zero-filled memory, MAP_FIXED |
//     MAP_STACK | MAP_ANON | MAP_PRIVATE, read-write: what the caller left
//     in it is gone, as there;
//   - then the program's own libc records the stack.
// (sigaltstack's remap is the kernel's on OpenBSD: stackcheck models it.)
//
// Built with -nostdlib and no DT_NEEDED: mmap, dlsym and __errno_location
// come from whichever libc the program loaded, glibc or musl (same names,
// same ABI), so one shim serves both. A static program loads no shim.

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

enum { OPENBSD_STACK_MIN = 4096 };

typedef int setstack_fn(pthread_attr_t *, void *, size_t);

int pthread_attr_setstack(pthread_attr_t *attr, void *addr, size_t size)
{
	static setstack_fn *next;
	volatile char *p = addr;

	if (size < OPENBSD_STACK_MIN || (uintptr_t)addr % OPENBSD_STACK_MIN != 0 ||
	    size % OPENBSD_STACK_MIN != 0)
		return EINVAL;
	for (size_t i = 0; i < size; i += OPENBSD_STACK_MIN) {
		char v = p[i];
		p[i] = v;
	}
	if (mmap(addr, size, PROT_READ | PROT_WRITE,
	    MAP_FIXED | MAP_STACK | MAP_ANONYMOUS | MAP_PRIVATE, -1, 0) == MAP_FAILED)
		return errno;
	if (next == NULL)
		next = (setstack_fn *)dlsym(RTLD_NEXT, "pthread_attr_setstack");
	return next != NULL ? next(attr, addr, size) : ENOSYS;
}
