/*
 * Every memory-ordering primitive the ring uses, in one place.
 *
 * The shared header fields are plain volatile uint32_t (the wire layout
 * cannot carry _Atomic), so these use the GCC/Clang __atomic builtins,
 * which accept ordinary objects and give C11 memory-model semantics.
 */
#ifndef VMB_RING_BARRIER_H
#define VMB_RING_BARRIER_H

#include <stdint.h>

/* Load that later reads of shared memory cannot be hoisted above. */
static inline uint32_t vmb_load_acquire(const volatile uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* Store that earlier reads and writes of shared memory cannot sink below. */
static inline void vmb_store_release(volatile uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Single untorn access with no ordering of its own. */
static inline uint32_t vmb_load_once(const volatile uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void vmb_store_once(volatile uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/*
 * Full barrier: orders an earlier store before a later load. The
 * signalling handshakes (index store, then read of the peer's index or
 * pending_send_sz) are Dekker-style and lose wake-ups without it.
 */
static inline void vmb_mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Spin-wait hint: lets the sibling hyperthread run and saves power. */
static inline void vmb_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

#endif
