/*
 * linux.c: the OS interface (os.h) on Linux, for glibc and musl.
 *
 * Memory, futexes and signals go straight to the kernel through libc's thin
 * wrappers; threads come from pthreads so that libc's thread state (TLS,
 * errno, stdio locks) is set up for code that sq_ccall runs on g0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"
#include "os.h"

#ifndef MAP_STACK
#error "linux.c: MAP_STACK is required"
#endif

NOSPLIT static int neg_errno(long r)
{
	return r < 0 ? -errno : (int)r;
}

int os_mem_reserve(size_t size, void **out)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	return 0;
}

void os_mem_release(void *p, size_t size)
{
	munmap(p, size);
}

/* Linux 6.13's lightweight guard regions: the pages fault like PROT_NONE
 * ones but stay part of the mapping, so a chunk of stacks with a guard
 * under each is one mapping, not two per stack (see stack.c).
 *
 * They are used only once one has been seen in place: the first guard
 * installed is looked up in /proc/self/pagemap (bit 58, Linux 6.14). An
 * older kernel says EINVAL; qemu-user says 0 to any madvise advice it does
 * not know and does nothing, and a guard that is not there lets an
 * overflow run into the stack below. Either way, from then on mprotect. */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

enum { GUARD_UNKNOWN, GUARD_REGIONS, GUARD_MPROTECT };
enum { PM_GUARD_REGION = 58 };

static int guardmode = GUARD_UNKNOWN;

static bool guardseen(void *p)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (pread(fd, &e, sizeof e, (off_t)((uintptr_t)p / PAGE * sizeof e)) != sizeof e)
		e = 0;
	close(fd);
	return (e >> PM_GUARD_REGION) & 1;
}

int os_mem_guard(void *p, size_t size)
{
	int mode = __atomic_load_n(&guardmode, __ATOMIC_RELAXED);

	if (mode != GUARD_MPROTECT) {
		if (madvise(p, size, MADV_GUARD_INSTALL) == 0) {
			if (mode == GUARD_REGIONS)
				return 0;
			if (guardseen(p)) {
				__atomic_store_n(&guardmode, GUARD_REGIONS, __ATOMIC_RELAXED);
				return 0;
			}
		} else if (errno != EINVAL) {
			return -errno;
		}
		__atomic_store_n(&guardmode, GUARD_MPROTECT, __ATOMIC_RELAXED);
	}
	return neg_errno(mprotect(p, size, PROT_NONE));
}

/* The process's own pidfd, for process_madvise: opened by os_init, and
 * again in a forked child (the parent's names the parent). -1: none, and
 * os_mem_guards makes its guards one call each. */
static int selfpidfd = -1;

enum { GUARDS_PER_CALL = 64 };

int os_mem_guards(void *base, size_t stride, int32_t n)
{
	struct iovec iov[GUARDS_PER_CALL];
	int32_t i, k, done;
	long r;
	int e;

	for (done = 0; done < n; done += k) {
		k = n - done < GUARDS_PER_CALL ? n - done : GUARDS_PER_CALL;
		r = -1;
		if (selfpidfd >= 0 &&
		    __atomic_load_n(&guardmode, __ATOMIC_RELAXED) == GUARD_REGIONS) {
			for (i = 0; i < k; i++) {
				iov[i].iov_base = (char *)base + stride * (size_t)(done + i);
				iov[i].iov_len = PAGE;
			}
			r = syscall(SYS_process_madvise, selfpidfd, iov, (size_t)k,
				MADV_GUARD_INSTALL, 0);
		}
		if (r == (long)k * PAGE)
			continue;
		/* Not all of them (or no process_madvise, or guard regions
		 * not known to work yet): one at a time. A guard installed
		 * twice is still one guard. */
		for (i = 0; i < k; i++) {
			e = os_mem_guard((char *)base + stride * (size_t)(done + i), PAGE);
			if (e < 0)
				return e;
		}
	}
	return 0;
}

/* Remapping in place is the only way to change MAP_STACK on an existing
 * range; MAP_FIXED over our own mapping is atomic, so no other thread can
 * be handed the range in between. */
NOSPLIT static int remap(void *p, size_t size, int extra)
{
	void *r = mmap(p, size, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE | extra, -1, 0);
	return r == MAP_FAILED ? -errno : 0;
}

int os_stack_alloc(void *p, size_t size)
{
	return remap(p, size, MAP_STACK);
}

int os_stack_free(void *p, size_t size)
{
	return remap(p, size, 0);
}

NOSPLIT void os_futexsleep(uint32_t *addr, uint32_t val, int64_t ns)
{
	struct timespec ts, *tp = NULL;

	if (ns >= 0) {
		ts.tv_sec = ns / 1000000000;
		ts.tv_nsec = ns % 1000000000;
		tp = &ts;
	}
	arch_syscall6(SYS_futex, (long)addr, FUTEX_WAIT_PRIVATE, val, (long)tp, 0, 0);
}

NOSPLIT void os_futexwakeup(uint32_t *addr, int cnt)
{
	arch_syscall6(SYS_futex, (long)addr, FUTEX_WAKE_PRIVATE, cnt, 0, 0, 0);
}

/* Every attach asks for the thread's id; it is fixed for the thread's life
 * except across fork, where the child's thread gets a new one. */
static __thread int32_t tid __attribute__((tls_model("initial-exec")));

static int openself(void)
{
	return (int)syscall(SYS_pidfd_open, getpid(), 0);
}

/* In the child of a fork: the thread's id, and the parent's pidfd. */
static void forget_tid(void)
{
	tid = 0;
	if (selfpidfd >= 0) {
		close(selfpidfd);
		selfpidfd = openself();
	}
}

void os_init(void)
{
	selfpidfd = openself();
	pthread_atfork(NULL, NULL, forget_tid);
}

NOSPLIT int32_t os_gettid(void)
{
	if (tid == 0)
		tid = (int32_t)arch_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
	return tid;
}

NOSPLIT int os_tgkill(int32_t tid, int sig)
{
	return (int)arch_syscall6(SYS_tgkill, getpid(), tid, sig, 0, 0, 0);
}

/* The kernel's struct sigevent (64 bytes), SIGEV_THREAD_ID's target in
 * the union: not every libc names that field. */
struct ksigevent {
	union sigval value;
	int signo;
	int notify;
	int tid;
	int pad[(64 - sizeof(union sigval) - 3 * sizeof(int)) / sizeof(int)];
};

int os_timer_tid(int32_t tid, int sig, int64_t ns)
{
	struct ksigevent ev = { .signo = sig, .notify = 4 /* SIGEV_THREAD_ID */, .tid = tid };
	struct itimerspec its = { .it_value = { ns / 1000000000, ns % 1000000000 } };
	int id = -1;
	long r;

	_Static_assert(sizeof(struct ksigevent) == 64, "kernel sigevent");
	r = arch_syscall6(SYS_timer_create, CLOCK_MONOTONIC, (long)&ev, (long)&id, 0, 0, 0);
	if (r < 0)
		return (int)r;
	r = arch_syscall6(SYS_timer_settime, id, 0, (long)&its, 0, 0, 0);
	if (r < 0) {
		arch_syscall6(SYS_timer_delete, id, 0, 0, 0, 0, 0);
		return (int)r;
	}
	return id;
}

int os_timer_delete(int id)
{
	return (int)arch_syscall6(SYS_timer_delete, id, 0, 0, 0, 0, 0);
}

NOSPLIT int64_t os_nanotime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void os_usleep(int64_t us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int os_ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

NOSPLIT long os_write(int fd, const void *buf, size_t n)
{
	return arch_syscall6(SYS_write, fd, (long)buf, (long)n, 0, 0, 0);
}

NOSPLIT _Noreturn void os_exit(int code)
{
	for (;;)
		arch_syscall6(SYS_exit_group, code, 0, 0, 0, 0, 0);
}

int os_newthread(struct M *mp, void *(*fn)(void *), uintptr_t lo, uintptr_t hi)
{
	pthread_attr_t attr;
	sigset_t all, old;
	int r;

	pthread_attr_init(&attr);
	pthread_attr_setstack(&attr, (void *)lo, hi - lo);
	/* The new thread starts with every signal blocked; minit unblocks them
	 * once its signal stack is installed. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&mp->thread, &attr, fn, mp);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return -r;
}

int os_threadgone(struct M *mp)
{
	return pthread_tryjoin_np(mp->thread, NULL) == 0;
}

/* A thread's own stack never changes, and pthread_getattr_np is costly
 * (a sched_getaffinity call, and a walk of /proc/self/maps on the main
 * thread): ask once per thread. */
static __thread uintptr_t tstack_lo __attribute__((tls_model("initial-exec")));
static __thread uintptr_t tstack_hi __attribute__((tls_model("initial-exec")));

int os_thread_stack(uintptr_t *lo, uintptr_t *hi)
{
	pthread_attr_t attr;
	void *addr;
	size_t size;

	if (tstack_hi == 0) {
		if (pthread_getattr_np(pthread_self(), &attr) != 0)
			return -EINVAL;
		pthread_attr_getstack(&attr, &addr, &size);
		pthread_attr_destroy(&attr);
		tstack_lo = (uintptr_t)addr;
		tstack_hi = (uintptr_t)addr + size;
	}
	*lo = tstack_lo;
	*hi = tstack_hi;
	return 0;
}

NOSPLIT int os_sigaltstack(uintptr_t lo, uintptr_t hi, stack_t *old)
{
	stack_t st;

	st.ss_sp = (void *)lo;
	st.ss_size = hi - lo;
	st.ss_flags = lo ? 0 : SS_DISABLE;
	return (int)arch_syscall6(SYS_sigaltstack, (long)&st, (long)old, 0, 0, 0, 0);
}

NOSPLIT int os_sigaltstack_raw(const stack_t *st, stack_t *old)
{
	return (int)arch_syscall6(SYS_sigaltstack, (long)st, (long)old, 0, 0, 0, 0);
}

/* Field 20 of /proc/self/stat, num_threads: after the command name, which
 * is in parentheses and may hold anything, so count from the last ')'. */
int os_nthreads(void)
{
	char buf[1024], *p, *end;
	long n;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC), field;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	if ((p = strrchr(buf, ')')) == NULL)
		return -EIO;
	for (field = 2; field < 20 && *p; p++)
		if (*p == ' ')
			field++;
	n = strtol(p, &end, 10);
	return end == p || n <= 0 ? -EIO : (int)n;
}

/* The executable is the first object dl_iterate_phdr reports. It is
 * static when it has no PT_INTERP: then libc is inside it. */
typedef struct Exectext {
	uintptr_t lo, hi;
	int dynamic;
} Exectext;

static int exectext_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	Exectext *t = arg;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_INTERP)
			t->dynamic = 1;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;

			if (t->hi == 0 || lo < t->lo)
				t->lo = lo;
			if (hi > t->hi)
				t->hi = hi;
		}
	}
	return 1;	/* the first object only */
}

int os_exec_text(uintptr_t *lo, uintptr_t *hi)
{
	Exectext t = { 0, 0, 0 };

	dl_iterate_phdr(exectext_cb, &t);
	if (!t.dynamic || t.hi == 0)
		return -ENOSYS;
	*lo = t.lo;
	*hi = t.hi;
	return 0;
}

/* Straight to the kernel: glibc's wrapper refuses to block its own internal
 * signals, and attach/detach must block everything. */
NOSPLIT int os_sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	return (int)arch_syscall6(SYS_rt_sigprocmask, how, (long)set, (long)old, 8, 0, 0);
}

int os_sigaction(int sig, const struct sigaction *sa, struct sigaction *old)
{
	return neg_errno(sigaction(sig, sa, old));
}
