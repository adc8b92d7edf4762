#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define C_SIDE

/* The Go side (golib/repro.go, a c-archive): one export per call. Its
 * runtime starts in a constructor, before main. The sq_* names below are
 * the calls the scenario makes, each mapped onto Go through cgo. */
typedef int (*sqgo_fn)(void *);
extern void sqgoMain(sqgo_fn fn, void *arg);
extern int sqgoCallback(sqgo_fn fn, void *arg);
extern int sqgoOutcall(sqgo_fn fn, void *arg);
extern void sqgoSpawn(sqgo_fn fn, void *arg);
extern void sqgoYield(void);
extern void sqgoSleep(int64_t ns);
extern void sqgoLockOSThread(void);
extern void sqgoUnlockOSThread(void);
extern void sqgoGoexit(void);
extern long sqgoSyscall(long nr, long a1, long a2, long a3);
extern uintptr_t sqgoWgNew(void);
extern void sqgoWgAdd(uintptr_t h, int n);
extern void sqgoWgDone(uintptr_t h);
extern void sqgoWgWait(uintptr_t h);
extern uintptr_t sqgoChanNew(int cap);
extern int sqgoChanSend(uintptr_t h, uintptr_t v);
extern int sqgoChanRecv(uintptr_t h, uintptr_t *v);
extern int sqgoQuiesce(int self);
extern void sqgoProfile(int hz);

typedef struct sq_wg sq_wg;
typedef struct sq_chan sq_chan;
static int main_parked;	/* sq_main's caller parks in Go for good: one goroutine more */

static int sq_init(void) { return 0; }
static _Noreturn void sq_main(int (*fn)(void *), void *arg) { main_parked = 1; sqgoMain(fn, arg); abort(); }
static int sq_callback(int (*fn)(void *), void *arg) { return sqgoCallback(fn, arg); }
static int sq_ccall(int (*fn)(void *), void *arg) { return sqgoOutcall(fn, arg); }
static void sq_spawn(int (*fn)(void *), void *arg) { sqgoSpawn(fn, arg); }
static void sq_yield(void) { sqgoYield(); }
static void sq_sleep(int64_t ns) { sqgoSleep(ns); }
static void sq_lockosthread(void) { sqgoLockOSThread(); }	/* LockOSThread's count outlives the callback */
static void sq_unlockosthread(void) { sqgoUnlockOSThread(); }
static _Noreturn void sq_goexit(void) { sqgoGoexit(); abort(); }	/* runtime.Goexit from a callback */
static long sq_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	return sqgoSyscall(nr, a1, a2, a3);
}
#define sq_syscall_block sq_syscall	/* Go 1.19: sysmon hands the P off after 20 us */
static sq_wg *sq_wg_new(void) { return (sq_wg *)sqgoWgNew(); }
static void sq_wg_add(sq_wg *w, int n) { sqgoWgAdd((uintptr_t)w, n); }
static void sq_wg_done(sq_wg *w) { sqgoWgDone((uintptr_t)w); }
static void sq_wg_wait(sq_wg *w) { sqgoWgWait((uintptr_t)w); }
static sq_chan *sq_chan_new(size_t cap) { return (sq_chan *)sqgoChanNew((int)cap); }
static int sq_chan_send(sq_chan *c, uintptr_t v) { return sqgoChanSend((uintptr_t)c, v); }
static int sq_chan_recv(sq_chan *c, uintptr_t *v) { return sqgoChanRecv((uintptr_t)c, v); }
static int sq_setprofile(int hz) { sqgoProfile(hz); return 0; }
static int sq_check(int quiescent) { return 0; }	/* Go has no check a program can call */
static int sq_fault_arm(const char *spec) { return -ENOSYS; }
static int sq_callback_binds(void) { return 0; }	/* cgo attaches and detaches every time */

static const char *const settings[][2] = {
@SETTINGS_C@	{ NULL, NULL },
};

/* Go reads its settings when its runtime starts, in the archive's
 * constructor: this one runs first (priority 101). */
__attribute__((constructor(101))) static void go_settings(void)
{
	for (int i = 0; settings[i][0]; i++)
		setenv(settings[i][0], settings[i][1], 1);
}

static void runtime_settings(void) {}

//@if quiesce
static void quiesce(void) { sqgoQuiesce(1 + main_parked); }
static int stacks_unmapped(void) { return 0; }	/* Go's stacks are its own business */
//@endif
