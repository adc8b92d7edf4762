// record: what a sweep found, as records for drivers: one JSON object per
// line, first member "rec", written with the project's header-only writer
// (harness/record.h; header-only and runtime-free, so sigpoke stays a tool
// that works from outside any runtime). Drivers read these and never the
// table or the summary line, which are for people and may change.
//
//   {"rec":"cover","instructions":N,"reached":N,"startup":N,"ms":N}
//   {"rec":"poke","addr":"0x2d69","func":"dropm","strip":"dropm@sq_callback",
//    "loc":"sq_callback+0x2b9","sym":"sq_callback","off":697,
//    "delivery":"at","class":"unexpected-fatal","unsafe":true,"late":false,
//    "delivered_at":"sq_callback+0x2b9","run":12,"message":"...","insn":"..."}
//   {"rec":"summary","signal":"SIGURG","instructions":N, ...,"cut":false,
//    "sample":0,"seed":0,"prog":"..."}
//
// One poke record per instruction of the window, in window order (strips,
// then addresses), written once the sweep is over: a failure that shows up
// after settle still changes the class of the instruction poked last, so
// no record is final before the end. docs/sigpoke.md lists every member.

#include <stdio.h>

#include "record.h"
#include "sigpoke.h"

static void hex(sq_rec *r, const char *key, uintptr_t v)
{
	char buf[24];

	snprintf(buf, sizeof buf, "0x%lx", (unsigned long)v);
	rec_str(r, key, buf);
}

static int64_t ms(double seconds)
{
	return (int64_t)(seconds * 1000 + 0.5);
}

// recordwindow: the window itself, for --list: one "insn" record per
// instruction in window order, then a "window" record with the counts and
// how long finding them took (setup_ms: ELF, disassembly, DWARF).
void recordwindow(int fd, const struct window *w, double setup)
{
	char loc[128];
	sq_rec r;

	for (size_t i = 0; i < w->nin; i++) {
		const struct insn *in = &w->in[i];
		locname(w, in, loc, sizeof loc);
		rec_begin(&r, "insn");
		hex(&r, "addr", in->addr);
		rec_str(&r, "func", w->fn[in->fn].of);
		rec_str(&r, "strip", w->fn[in->fn].name);
		rec_str(&r, "loc", loc);
		rec_str(&r, "insn", in->text);
		rec_end(&r, fd);
	}
	rec_begin(&r, "window");
	rec_int(&r, "instructions", (int64_t)w->nin);
	rec_int(&r, "strips", (int64_t)w->nfn);
	rec_int(&r, "setup_ms", ms(setup));
	rec_end(&r, fd);
}

// recordcover: what the cover run saw (nothing without one: --at).
void recordcover(int fd, const struct window *w, const struct sweepstats *st)
{
	sq_rec r;

	if (!st->covered)
		return;
	rec_begin(&r, "cover");
	rec_int(&r, "instructions", (int64_t)w->nin);
	rec_int(&r, "reached", (int64_t)st->reached);
	rec_int(&r, "startup", (int64_t)st->startup);
	rec_int(&r, "ms", ms(st->coverseconds));
	rec_end(&r, fd);
}

static void recordpoke(int fd, const struct window *w, const struct insn *in)
{
	const struct func *f = &w->fn[in->fn];
	char loc[128];
	sq_rec r;

	locname(w, in, loc, sizeof loc);
	rec_begin(&r, "poke");
	hex(&r, "addr", in->addr);
	rec_str(&r, "func", f->of);
	rec_str(&r, "strip", f->name);
	rec_str(&r, "loc", loc);
	rec_str(&r, "sym", in->sym);
	rec_int(&r, "off", in->off);
	rec_str(&r, "delivery", deliveryname(in->delivery));
	rec_str(&r, "class", classname(in->cls));
	rec_bool(&r, "unsafe", unsafe(in->cls));
	rec_bool(&r, "late", in->late);
	rec_str(&r, "delivered_at", delivered(in->delivery) && in->dwhere[0] ? in->dwhere : NULL);
	rec_int(&r, "run", in->run);
	rec_str(&r, "message", in->detail);
	// Last: the instruction's text is the longest member, and record.h cuts a
	// record that would not fit its buffer (it still closes it).
	rec_str(&r, "insn", in->text);
	rec_end(&r, fd);
}

// recordpokes: one record per swept instruction.
void recordpokes(int fd, const struct window *w)
{
	for (size_t i = 0; i < w->nin; i++)
		if (w->in[i].swept)
			recordpoke(fd, w, &w->in[i]);
}

// recordsummary: the counts of every delivery and every class, by name,
// and how many instructions are unsafe.
void recordsummary(int fd, const struct window *w, const struct config *c,
    const struct sweepstats *st)
{
	size_t dn[D_N] = { 0 }, cn[C_N] = { 0 }, swept = 0, nunsafe = 0;
	char sb[16];
	sq_rec r;

	for (size_t i = 0; i < w->nin; i++) {
		const struct insn *in = &w->in[i];
		if (!in->swept)
			continue;
		swept++;
		dn[in->delivery]++;
		cn[in->cls]++;
		nunsafe += unsafe(in->cls);
	}
	rec_begin(&r, "summary");
	rec_str(&r, "signal", signame(c->sig, sb, sizeof sb));
	rec_int(&r, "instructions", (int64_t)swept);
	rec_int(&r, "reached", (int64_t)(swept - dn[D_NOTREACHED] - dn[D_UNTESTED]));
	for (int d = 0; d < D_N; d++)
		rec_int(&r, deliveryname(d), (int64_t)dn[d]);
	for (int k = 0; k < C_N; k++)
		rec_int(&r, classname(k), (int64_t)cn[k]);
	rec_int(&r, "unsafe", (int64_t)nunsafe);
	rec_int(&r, "runs", st->runs);
	rec_int(&r, "ms", ms(st->seconds));
	rec_int(&r, "setup_ms", ms(st->setupseconds));
	rec_bool(&r, "cut", st->cut);
	rec_int(&r, "sample", c->sample);
	rec_int(&r, "seed", c->seed);
	rec_str(&r, "prog", c->prog);
	rec_end(&r, fd);
}
