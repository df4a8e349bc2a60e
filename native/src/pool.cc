// Thread pool implementation: generation counter + spin-then-sleep workers, dynamic task claiming.
#include "pool.h"
#include <sched.h>
#include <immintrin.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace chimera {

namespace {

thread_local bool tlsInParallel = false;

struct Job {
  TaskFn fn = nullptr;
  void* ctx = nullptr;
  size_t ntasks = 0;
  std::atomic<size_t> next{0};
};

long spinMicros() {
  const char* e = std::getenv("CHIMERA_SPIN_US");
  if (e && *e) return std::atol(e);
  return 50;
}

class Pool {
 public:
  Pool() {
    int n = machineThreads();
    if (const char* e = std::getenv("CHIMERA_THREADS")) {
      int v = std::atoi(e);
      if (v >= 1) n = v;
    }
    spinUs_ = spinMicros();
    start(n);
  }
  ~Pool() { stop(); }

  int size() const { return size_; }

  void resize(int n) {
    if (n < 1) n = 1;
    if (n > 256) n = 256;
    if (n == size_) return;
    std::lock_guard<std::mutex> run(runMutex_);
    stop();
    start(n);
  }

  void park() { parkReq_.store(true, std::memory_order_seq_cst); }

  void run(size_t ntasks, TaskFn fn, void* ctx) {
    // Another JS thread (worker_threads) may be inside the pool: run serially then.
    std::unique_lock<std::mutex> run(runMutex_, std::try_to_lock);
    if (!run.owns_lock() || size_ == 1) {
      serial(ntasks, fn, ctx);
      return;
    }
    job_.fn = fn;
    job_.ctx = ctx;
    job_.ntasks = ntasks;
    job_.next.store(0, std::memory_order_relaxed);
    const int nw = size_ - 1;
    pending_.store(nw, std::memory_order_relaxed);
    parkReq_.store(false, std::memory_order_relaxed);
    gen_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lk(mutex_);
      cv_.notify_all();
    }
    tlsInParallel = true;
    work(0);
    tlsInParallel = false;
    // wait for workers still finishing a task; yield once it takes long (a descheduled worker
    // on a busy machine needs our core more than we need to spin)
    for (unsigned it = 0; pending_.load(std::memory_order_acquire) != 0; it++) {
      if (it < 4096) _mm_pause();
      else std::this_thread::yield();
    }
  }

 private:
  void serial(size_t ntasks, TaskFn fn, void* ctx) {
    bool prev = tlsInParallel;
    tlsInParallel = true;
    for (size_t t = 0; t < ntasks; t++) fn(ctx, t, 0);
    tlsInParallel = prev;
  }

  void work(int tid) {
    for (;;) {
      size_t t = job_.next.fetch_add(1, std::memory_order_relaxed);
      if (t >= job_.ntasks) break;
      job_.fn(job_.ctx, t, tid);
    }
  }

  void start(int n) {
    size_ = n;
    stop_.store(false);
    const uint64_t g0 = gen_.load(std::memory_order_seq_cst);
    for (int i = 1; i < n; i++) threads_.emplace_back([this, i, g0] { loop(i, g0); });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lk(mutex_);
      stop_.store(true, std::memory_order_seq_cst);
      gen_.fetch_add(1, std::memory_order_seq_cst);
      cv_.notify_all();
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  void loop(int tid, uint64_t seen) {
    tlsInParallel = true;
    for (;;) {
      // spin for a while, then sleep
      auto t0 = std::chrono::steady_clock::now();
      const auto budget = std::chrono::microseconds(spinUs_);
      uint64_t g;
      for (unsigned it = 0;; it++) {
        g = gen_.load(std::memory_order_acquire);
        if (g != seen) break;
        if (parkReq_.load(std::memory_order_relaxed)) break;
        _mm_pause();
        if ((it & 63) == 63 && std::chrono::steady_clock::now() - t0 > budget) break;
      }
      if (g == seen) {
        std::unique_lock<std::mutex> lk(mutex_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        cv_.wait(lk, [&] { return gen_.load(std::memory_order_seq_cst) != seen; });
        sleepers_.fetch_sub(1, std::memory_order_seq_cst);
        g = gen_.load(std::memory_order_acquire);
      }
      seen = g;
      if (stop_.load(std::memory_order_acquire)) return;
      work(tid);
      pending_.fetch_sub(1, std::memory_order_release);
    }
  }

  int size_ = 1;
  long spinUs_ = 50;
  std::vector<std::thread> threads_;
  Job job_;
  std::atomic<uint64_t> gen_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> parkReq_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::mutex runMutex_;
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

int machineThreads() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int c = CPU_COUNT(&set);
    if (c > 0) return c;
  }
  unsigned h = std::thread::hardware_concurrency();
  return h ? static_cast<int>(h) : 1;
}

int poolSize() { return pool().size(); }
void setPoolSize(int n) { pool().resize(n); }
void poolPark() { pool().park(); }
bool inParallel() { return tlsInParallel; }
void poolRun(size_t ntasks, TaskFn fn, void* ctx) { pool().run(ntasks, fn, ctx); }

}  // namespace chimera
