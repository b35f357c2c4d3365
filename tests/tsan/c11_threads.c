/* C11 threads (<threads.h>) over pthreads, linked into the executables of the ThreadSanitizer
 * flavour only (CMakeLists.txt, ASSAY_TSAN; docs/testing.md).
 *
 * Debian's librdkafka creates its threads with thrd_create() and synchronises them with
 * mtx_* and cnd_*. glibc implements these over its internal pthread functions, which
 * ThreadSanitizer (gcc 12) does not intercept: a thread created by thrd_create() is unknown to
 * it and its first malloc crashes the process (SEGV in the sanitizer's allocator cache), and
 * locks taken by mtx_lock() are invisible, so data handed over under them looks racy. These
 * definitions take precedence over glibc's for every library of the process and route the
 * calls through the public pthread functions, which ThreadSanitizer intercepts. glibc's mtx_t
 * and cnd_t have the layout of pthread_mutex_t and pthread_cond_t (it implements them that
 * way), so the objects are used as such. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t is a pthread mutex in glibc");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t is a pthread cond in glibc");

static int result(int e) {
  switch (e) {
    case 0: return thrd_success;
    case ENOMEM: return thrd_nomem;
    case ETIMEDOUT: return thrd_timedout;
    case EBUSY: return thrd_busy;
    default: return thrd_error;
  }
}

struct start { thrd_start_t fn; void* arg; };

static void* trampoline(void* p) {
  struct start s = *(struct start*)p;
  free(p);
  return (void*)(intptr_t)s.fn(s.arg);
}

int thrd_create(thrd_t* thr, thrd_start_t fn, void* arg) {
  struct start* s = malloc(sizeof *s);
  if (s == NULL) return thrd_nomem;
  s->fn = fn;
  s->arg = arg;
  const int e = pthread_create((pthread_t*)thr, NULL, trampoline, s);
  if (e != 0) free(s);
  return result(e);
}

int thrd_join(thrd_t thr, int* res) {
  void* r = NULL;
  const int e = pthread_join((pthread_t)thr, &r);
  if (e == 0 && res != NULL) *res = (int)(intptr_t)r;
  return result(e);
}

int thrd_detach(thrd_t thr) { return result(pthread_detach((pthread_t)thr)); }

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  if (type & mtx_recursive) pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  const int e = pthread_mutex_init((pthread_mutex_t*)m, &a);
  pthread_mutexattr_destroy(&a);
  return result(e);
}
int mtx_lock(mtx_t* m) { return result(pthread_mutex_lock((pthread_mutex_t*)m)); }
int mtx_trylock(mtx_t* m) { return result(pthread_mutex_trylock((pthread_mutex_t*)m)); }
int mtx_timedlock(mtx_t* restrict m, const struct timespec* restrict t) {
  return result(pthread_mutex_timedlock((pthread_mutex_t*)m, t));
}
int mtx_unlock(mtx_t* m) { return result(pthread_mutex_unlock((pthread_mutex_t*)m)); }
void mtx_destroy(mtx_t* m) { pthread_mutex_destroy((pthread_mutex_t*)m); }

int cnd_init(cnd_t* c) { return result(pthread_cond_init((pthread_cond_t*)c, NULL)); }
int cnd_signal(cnd_t* c) { return result(pthread_cond_signal((pthread_cond_t*)c)); }
int cnd_broadcast(cnd_t* c) { return result(pthread_cond_broadcast((pthread_cond_t*)c)); }
int cnd_wait(cnd_t* c, mtx_t* m) {
  return result(pthread_cond_wait((pthread_cond_t*)c, (pthread_mutex_t*)m));
}
int cnd_timedwait(cnd_t* restrict c, mtx_t* restrict m, const struct timespec* restrict t) {
  return result(pthread_cond_timedwait((pthread_cond_t*)c, (pthread_mutex_t*)m, t));
}
void cnd_destroy(cnd_t* c) { pthread_cond_destroy((pthread_cond_t*)c); }
