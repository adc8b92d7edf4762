/*
 * lock.c: runtime mutexes and one-shot notes, on futexes.
 *
 * A Lock is 0 (free), 1 (held) or 2 (held, maybe waiters). Holding a lock
 * counts in m->locks, which keeps the holder from being preempted: a G
 * descheduled with a runtime lock held would stall every M that wants it.
 *
 * A Note is a one-shot event: noteclear, then one notewakeup and one
 * notesleep in either order. Ms park on their own note.
 */
#include "runtime.h"
#include "os.h"

NOSPLIT static inline void mlocks(int d)
{
	G *gp = getg();

	if (gp && gp->m)
		gp->m->locks += d;
}

NOSPLIT void lock(Lock *l)
{
	uint32_t v;
	int spin;

	mlocks(1);
	if (cas32(&l->key, 0, 1))
		return;
	for (spin = 0; spin < 64; spin++) {
		if (atomic_load32(&l->key) == 0 && cas32(&l->key, 0, 1))
			return;
		arch_pause();
	}
	/* Mark contended; whoever unlocks from 2 must wake someone. */
	for (;;) {
		v = __atomic_exchange_n(&l->key, 2, __ATOMIC_ACQUIRE);
		if (v == 0)
			return;
		os_futexsleep(&l->key, 2, -1);
	}
}

NOSPLIT void unlock(Lock *l)
{
	if (__atomic_exchange_n(&l->key, 0, __ATOMIC_RELEASE) == 2)
		os_futexwakeup(&l->key, 1);
	mlocks(-1);
}

NOSPLIT void noteclear(Note *n)
{
	atomic_store32(&n->key, 0);
}

NOSPLIT void notewakeup(Note *n)
{
	if (__atomic_exchange_n(&n->key, 1, __ATOMIC_RELEASE) != 0)
		return;	/* a second wakeup is harmless: one-shot */
	os_futexwakeup(&n->key, 1);
}

NOSPLIT void notesleep(Note *n)
{
	while (atomic_load32(&n->key) == 0)
		os_futexsleep(&n->key, 0, -1);
}

/* Sleep until woken or ns elapse. Returns whether the note was woken. */
NOSPLIT bool notetsleep(Note *n, int64_t ns)
{
	int64_t deadline = os_nanotime() + ns, now;

	while (atomic_load32(&n->key) == 0) {
		now = os_nanotime();
		if (now >= deadline)
			return false;
		os_futexsleep(&n->key, 0, deadline - now);
	}
	return true;
}
