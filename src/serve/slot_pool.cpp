#include "serve/slot_pool.h"

namespace wobble::serve {

moe::Result<std::unique_ptr<SlotPool>> SlotPool::create(std::shared_ptr<const moe::Model> model, int parallel,
                                                        int max_waiting, const moe::SessionOptions& session_options) {
  if (parallel < 1) return moe::Status::InvalidArgument("parallel must be at least 1");
  if (max_waiting < 0) return moe::Status::InvalidArgument("the queue length must be at least 0");
  std::unique_ptr<SlotPool> pool(new SlotPool());
  pool->max_waiting_ = max_waiting;
  for (int i = 0; i < parallel; ++i) {
    auto s = moe::Session::create(model, session_options);
    if (!s.ok()) return s.status();
    pool->sessions_.push_back(std::move(s.value()));
    pool->free_.push_back(size_t(parallel - 1 - i));  // slot 0 is handed out first
  }
  return pool;
}

SlotPool::Lease::~Lease() {
  if (pool_) pool_->release(slot_);
}

moe::Session& SlotPool::Lease::session() const { return *pool_->sessions_[slot_]; }

std::optional<SlotPool::Lease> SlotPool::acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  if (free_.empty()) {
    if (waiting_ >= max_waiting_) return std::nullopt;
    ++waiting_;
    freed_.wait(lock, [&] { return !free_.empty(); });
    --waiting_;
  }
  size_t slot = free_.back();
  free_.pop_back();
  lock.unlock();
  sessions_[slot]->reset();
  return Lease(this, slot);
}

void SlotPool::release(size_t slot) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(slot);
  }
  freed_.notify_one();
}

SlotPool::Stats SlotPool::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats s;
  s.parallel = int(sessions_.size());
  s.max_waiting = max_waiting_;
  s.busy = int(sessions_.size() - free_.size());
  s.waiting = waiting_;
  return s;
}

}  // namespace wobble::serve
