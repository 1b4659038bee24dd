// The runner's writer against another process holding the database lock past SQLite's 5 s busy
// timeout: it retries with backoff (bounded) and nothing is lost; past the bound it gives up with
// a message that says so.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "runner/runner.h"
#include "store/store.h"
#include "support/scratch.h"
#include "util/error.h"

using namespace wobble;
namespace fs = std::filesystem;

namespace {

// Answers "ok" at once; the first call starts `on_first` (which takes the lock) and waits for it.
class InstantProvider : public Provider {
 public:
  explicit InstantProvider(std::function<void()> on_first) : on_first_(std::move(on_first)) {}
  Completion complete(const CompletionRequest&) override {
    std::call_once(once_, on_first_);
    Completion c;
    c.ok = true;
    c.text = "ok";
    c.finish_reason = "stop";
    return c;
  }
  std::string model_id() const override { return "instant"; }

 private:
  std::function<void()> on_first_;
  std::once_flag once_;
};

RunPlan small_plan(int repeats) {
  RunPlan p;
  p.suite.name = "busy";
  p.suite.repeats = repeats;
  Variant v;
  v.id = "v";
  v.prompt = "hi";
  p.suite.variants.push_back(v);
  Case c;
  c.id = "c";
  p.suite.cases.push_back(c);
  return p;
}

// Another connection (SQLite locks it like another process) holding the write lock of `path` until
// `release` is set; start() returns once the lock is held.
class LockHolder {
 public:
  LockHolder(std::string path, std::atomic<bool>& release) : path_(std::move(path)), release_(release) {}
  ~LockHolder() {
    if (thread_.joinable()) thread_.join();
  }
  void start() {
    thread_ = std::thread([this] {
      sqlite3* db;
      sqlite3_open(path_.c_str(), &db);
      sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
      locked_.store(true);
      while (!release_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
      sqlite3_close(db);
    });
    while (!locked_.load()) std::this_thread::yield();
  }
  void join() { thread_.join(); }

 private:
  std::string path_;
  std::atomic<bool>& release_;
  std::atomic<bool> locked_{false};
  std::thread thread_;
};

std::string fresh_db(const std::string& tag) {
  fs::path p = testsupport::scratch_path("wobble-busy-" + tag + ".db");
  for (const char* ext : {"", "-wal", "-shm"}) fs::remove(p.string() + ext);
  return p.string();
}

}  // namespace

TEST(WriterBusy, ALockHeldPastTheBusyTimeoutIsWaitedOutAndNothingIsLost) {
  std::string path = fresh_db("wait");
  Store::open(path);  // schema first, so the run's own open does not need the lock
  std::atomic<bool> release{false};
  LockHolder holder(path, release);
  std::thread timer;
  InstantProvider provider([&] {
    holder.start();
    timer = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(6500));
      release.store(true);
    });
  });
  RunOptions ro;
  ro.db_path = path;
  ro.quiet = true;
  RunOutcome out = run_plan(small_plan(50), provider, ro);
  timer.join();
  holder.join();
  EXPECT_EQ(out.status, "complete");
  Store st = Store::open(path);
  EXPECT_EQ(st.samples(out.run_id).size(), 50u);
  EXPECT_EQ(st.get_run(out.run_id)->status, "complete");
}

TEST(WriterBusy, PastItsBoundTheWriterGivesUpSayingWhy) {
  std::string path = fresh_db("giveup");
  Store::open(path);
  std::atomic<bool> release{false};
  LockHolder holder(path, release);
  InstantProvider provider([&] { holder.start(); });
  RunOptions ro;
  ro.db_path = path;
  ro.quiet = true;
  ro.busy_retry_s = 0.5;  // one 5 s busy wait, then past the bound
  try {
    run_plan(small_plan(5), provider, ro);
    ADD_FAILURE() << "expected a StoreError";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("another process kept the database locked"), std::string::npos) << e.what();
  }
  release.store(true);
  holder.join();
}
