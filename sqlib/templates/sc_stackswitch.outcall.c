//! expect fatal CALLBACK_SP
//! uses cstack
/* ---- sc_stackswitch, mode outcall -----------------------------------------
 * The illegal case: C run by an outcall switches stacks and calls back
 * while runtime frames are up the other stack. A correct runtime refuses
 * (SQ_F_CALLBACK_SP). */

static cstack other = { .kind = CS_UCONTEXT, .mapped = 1 };

static int work(void *arg)
{
	sq_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
	sq_yield();
	return 1;
}

C_SIDE static void callback_from_other(void *arg)
{
	callback(work, arg);
}

C_SIDE static int outcall_switches(void *arg)
{
	cs_run(&other, callback_from_other, arg);
	return 0;
}

static int g_main(void *arg)
{
	sq_ccall(outcall_switches, NULL);
	finish(1, 0);	/* the refusal never came */
}

int main(void)
{
	begin();
	sq_main(g_main, NULL);
}
