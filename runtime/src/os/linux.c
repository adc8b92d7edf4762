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

int os_mem_guard(void *p, size_t size)
{
	return neg_errno(mprotect(p, size, PROT_NONE));
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

static void forget_tid(void)
{
	tid = 0;
}

void os_init(void)
{
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
