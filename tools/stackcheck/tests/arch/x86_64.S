// Stack-switching helpers for the stackcheck test programs, x86-64 SysV.
//
// sc_call_on_stack(top, fn, arg) runs fn(arg) with SP = top and comes back
// on the caller's stack. Frame on the new stack after the call:
//
//   top - 8   return address into sc_call_on_stack   <- SP at fn entry
//   below     fn's own frame
//
// The caller's SP is kept in rbp (callee-saved, so fn preserves it).
//
// sc_clone_raw(flags, child_stack, done) makes a raw clone(2) whose child
// executes a syscall as its very first instruction, with SP exactly equal to
// child_stack: nothing has been pushed yet, which is the edge case of
// OpenBSD's "lo <= sp < hi" test. The child stores 1 to *done and leaves with
// exit(2) (this thread only). Nothing in the child touches memory through SP
// or TLS, so no libc state is needed there.

	.text

	.globl	sc_call_on_stack
	.type	sc_call_on_stack, @function
sc_call_on_stack:
	pushq	%rbp			// save the caller's rbp; SP now 16-aligned
	movq	%rsp, %rbp		// rbp = caller's SP, survives fn
	movq	%rdi, %rsp		// switch: SP = top (caller passes it 16-aligned)
	movq	%rdx, %rdi		// fn's argument
	call	*%rsi			// pushes the return address at top - 8
	movq	%rbp, %rsp		// back to the caller's stack
	popq	%rbp
	ret
	.size	sc_call_on_stack, .-sc_call_on_stack

	.globl	sc_clone_raw
	.type	sc_clone_raw, @function
sc_clone_raw:
	movq	%rdx, %r9		// done pointer: r9 is copied into the child
	xorl	%edx, %edx		// parent_tid = NULL
	xorl	%r10d, %r10d		// child_tid = NULL
	xorl	%r8d, %r8d		// tls = 0
	movl	$56, %eax		// SYS_clone(flags = rdi, stack = rsi)
	syscall
	testq	%rax, %rax
	jz	1f			// child
	ret				// parent: child tid or -errno
1:
	movl	$39, %eax		// SYS_getpid, with SP == child_stack
	syscall
	movl	$1, (%r9)		// *done = 1
	movl	$60, %eax		// SYS_exit(0): this thread only
	xorl	%edi, %edi
	syscall
	ud2				// not reached
	.size	sc_clone_raw, .-sc_clone_raw

	.section .note.GNU-stack,"",@progbits
