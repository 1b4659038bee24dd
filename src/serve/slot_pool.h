// `wobble serve`: N engine sessions over one loaded model, and the bounded queue in front of them.
//
// The model is immutable and shared; each slot owns one Session (KV cache, routing trace), reused
// request after request (reset() between them). A request is admitted only while fewer than
// parallel + max_waiting requests are admitted; an admitted request waits for a free slot, holds it
// (a Lease) for its whole generation, and gives it back when the Lease is destroyed.
// Thread safety: every method may be called from any thread; a Lease's session is used by its
// holder alone.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "moe/model.h"
#include "moe/session.h"
#include "moe/status.h"

namespace wobble::serve {

class SlotPool {
 public:
  // Sessions are created here, so a context too large for memory fails at start, not per request.
  static moe::Result<std::unique_ptr<SlotPool>> create(std::shared_ptr<const moe::Model> model, int parallel,
                                                       int max_waiting, const moe::SessionOptions& session_options);

  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(other.pool_), slot_(other.slot_) { other.pool_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    moe::Session& session() const;

   private:
    friend class SlotPool;
    Lease(SlotPool* pool, size_t slot) : pool_(pool), slot_(slot) {}
    SlotPool* pool_;
    size_t slot_;
  };

  // nullopt when parallel + max_waiting requests are already admitted (the caller answers 503);
  // otherwise waits for a free slot and returns it with its session reset.
  std::optional<Lease> acquire();

  struct Stats {
    int parallel = 0, max_waiting = 0;
    int busy = 0, waiting = 0;
  };
  Stats stats() const;
  uint32_t n_ctx() const { return sessions_.front()->n_ctx(); }

 private:
  SlotPool() = default;
  void release(size_t slot);

  mutable std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<moe::Session>> sessions_;
  std::vector<size_t> free_;  // indices of idle slots
  int max_waiting_ = 0;
  int waiting_ = 0;
};

}  // namespace wobble::serve
