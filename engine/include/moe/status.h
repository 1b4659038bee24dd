// Status and Result<T>: how every fallible call in the engine reports failure.
//
// Contract: no exception leaves the engine's public API. A function that can fail returns Status
// (no value) or Result<T> (a value or the Status explaining why not). Messages name the offending
// key, tensor, field or byte offset so a user can act on them without a debugger.
// Thread safety: both are plain values; copy freely.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace moe {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // caller passed something unusable (bad option, token id out of range)
    kNotFound,         // a named file, key or tensor is absent
    kCorruption,       // a file's bytes contradict its own format (bad magic, truncated, overflow)
    kNotSupported,     // well-formed, but this engine does not implement it (architecture, type)
    kIOError,          // the operating system refused (open, mmap, write)
    kOutOfRange,       // a limit was reached (context length)
    kInternal,         // a bug in the engine
    kCancelled,        // the caller asked the call to stop (GenerateOptions::cancel)
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status Corruption(std::string m) { return Status(Code::kCorruption, std::move(m)); }
  static Status NotSupported(std::string m) { return Status(Code::kNotSupported, std::move(m)); }
  static Status IOError(std::string m) { return Status(Code::kIOError, std::move(m)); }
  static Status OutOfRange(std::string m) { return Status(Code::kOutOfRange, std::move(m)); }
  static Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }
  static Status Cancelled(std::string m) { return Status(Code::kCancelled, std::move(m)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "Corruption: tensor 'blk.0.ffn_up_exps.weight': data extends past end of file"
  std::string ToString() const {
    if (ok()) return "OK";
    return std::string(CodeName(code_)) + ": " + message_;
  }

  // Prefixes context, e.g. st.WithContext("model.gguf") -> "model.gguf: <message>".
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

  static const char* CodeName(Code c) {
    switch (c) {
      case Code::kOk: return "OK";
      case Code::kInvalidArgument: return "Invalid argument";
      case Code::kNotFound: return "Not found";
      case Code::kCorruption: return "Corruption";
      case Code::kNotSupported: return "Not supported";
      case Code::kIOError: return "IO error";
      case Code::kOutOfRange: return "Out of range";
      case Code::kInternal: return "Internal error";
      case Code::kCancelled: return "Cancelled";
    }
    return "Unknown";
  }

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or the Status explaining its absence. Accessing value() of a failed Result is a bug (asserts).
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}                 // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { assert(ok()); return std::get<T>(v_); }
  const T& value() const& { assert(ok()); return std::get<T>(v_); }
  T&& value() && { assert(ok()); return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace moe

// Early-return helpers for code inside the engine.
#define MOE_RETURN_IF_ERROR(expr)                 \
  do {                                            \
    ::moe::Status moe_status_ = (expr);           \
    if (!moe_status_.ok()) return moe_status_;    \
  } while (0)

#define MOE_CONCAT_INNER_(a, b) a##b
#define MOE_CONCAT_(a, b) MOE_CONCAT_INNER_(a, b)
#define MOE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
#define MOE_ASSIGN_OR_RETURN(lhs, expr) \
  MOE_ASSIGN_OR_RETURN_IMPL_(MOE_CONCAT_(moe_result_, __LINE__), lhs, expr)
