// GGUF parsing. Every read goes through Cursor, which checks the bytes that remain; every size
// computation is overflow-checked before anything is allocated.
#include "gguf/gguf_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>

namespace moe {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian

bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }
bool add_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_add_overflow(a, b, out); }

class Cursor {
 public:
  Cursor(const uint8_t* p, size_t n) : base_(p), size_(n) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  template <typename T>
  Status read(T* out, const char* what) {
    if (remaining() < sizeof(T))
      return Status::Corruption(std::string("truncated while reading ") + what + " at byte " + std::to_string(pos_));
    std::memcpy(out, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }

  Status read_string(std::string* out, uint64_t max_len, const std::string& what) {
    uint64_t len;
    MOE_RETURN_IF_ERROR(read(&len, "string length"));
    if (len > max_len) return Status::Corruption(what + ": string length " + std::to_string(len) + " exceeds limit");
    if (len > remaining())
      return Status::Corruption(what + ": string of " + std::to_string(len) + " bytes extends past end of file");
    out->assign(reinterpret_cast<const char*>(base_ + pos_), len);
    pos_ += len;
    return Status::Ok();
  }

 private:
  const uint8_t* base_;
  size_t size_;
  size_t pos_ = 0;
};

size_t scalar_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::BOOL: return 1;
    case GgufValueType::UINT16: case GgufValueType::INT16: return 2;
    case GgufValueType::UINT32: case GgufValueType::INT32: case GgufValueType::FLOAT32: return 4;
    case GgufValueType::UINT64: case GgufValueType::INT64: case GgufValueType::FLOAT64: return 8;
    default: return 0;
  }
}

Status read_value(Cursor& c, GgufValueType type, GgufValue* out, const GgufLimits& lim, uint32_t depth,
                  const std::string& key) {
  out->type = type;
  switch (type) {
    case GgufValueType::UINT8: { uint8_t v; MOE_RETURN_IF_ERROR(c.read(&v, "u8")); out->v = uint64_t(v); break; }
    case GgufValueType::UINT16: { uint16_t v; MOE_RETURN_IF_ERROR(c.read(&v, "u16")); out->v = uint64_t(v); break; }
    case GgufValueType::UINT32: { uint32_t v; MOE_RETURN_IF_ERROR(c.read(&v, "u32")); out->v = uint64_t(v); break; }
    case GgufValueType::UINT64: { uint64_t v; MOE_RETURN_IF_ERROR(c.read(&v, "u64")); out->v = v; break; }
    case GgufValueType::INT8: { int8_t v; MOE_RETURN_IF_ERROR(c.read(&v, "i8")); out->v = int64_t(v); break; }
    case GgufValueType::INT16: { int16_t v; MOE_RETURN_IF_ERROR(c.read(&v, "i16")); out->v = int64_t(v); break; }
    case GgufValueType::INT32: { int32_t v; MOE_RETURN_IF_ERROR(c.read(&v, "i32")); out->v = int64_t(v); break; }
    case GgufValueType::INT64: { int64_t v; MOE_RETURN_IF_ERROR(c.read(&v, "i64")); out->v = v; break; }
    case GgufValueType::FLOAT32: { float v; MOE_RETURN_IF_ERROR(c.read(&v, "f32")); out->v = double(v); break; }
    case GgufValueType::FLOAT64: { double v; MOE_RETURN_IF_ERROR(c.read(&v, "f64")); out->v = v; break; }
    case GgufValueType::BOOL: {
      uint8_t v;
      MOE_RETURN_IF_ERROR(c.read(&v, "bool"));
      if (v > 1) return Status::Corruption("key '" + key + "': bool value " + std::to_string(v));
      out->v = v != 0;
      break;
    }
    case GgufValueType::STRING: {
      std::string s;
      MOE_RETURN_IF_ERROR(c.read_string(&s, lim.max_string, "key '" + key + "'"));
      out->v = std::move(s);
      break;
    }
    case GgufValueType::ARRAY: {
      if (depth >= lim.max_array_depth) return Status::Corruption("key '" + key + "': arrays nested too deeply");
      uint32_t et;
      uint64_t n;
      MOE_RETURN_IF_ERROR(c.read(&et, "array type"));
      MOE_RETURN_IF_ERROR(c.read(&n, "array length"));
      if (et > uint32_t(GgufValueType::FLOAT64))
        return Status::Corruption("key '" + key + "': unknown array element type " + std::to_string(et));
      if (n > lim.max_array) return Status::Corruption("key '" + key + "': array length " + std::to_string(n) + " exceeds limit");
      auto elem = GgufValueType(et);
      // Each element needs at least this many bytes; reject impossible counts before reserving.
      uint64_t min_bytes = elem == GgufValueType::STRING ? 8 : (elem == GgufValueType::ARRAY ? 12 : scalar_size(elem));
      uint64_t need;
      if (mul_overflows(n, min_bytes, &need) || need > c.remaining())
        return Status::Corruption("key '" + key + "': array of " + std::to_string(n) + " elements extends past end of file");
      auto arr = std::make_shared<GgufArray>();
      arr->elem_type = elem;
      arr->items.resize(n);
      for (uint64_t i = 0; i < n; ++i)
        MOE_RETURN_IF_ERROR(read_value(c, elem, &arr->items[i], lim, depth + 1, key));
      out->v = std::move(arr);
      break;
    }
    default:
      return Status::Corruption("key '" + key + "': unknown value type " + std::to_string(uint32_t(type)));
  }
  return Status::Ok();
}

}  // namespace

uint64_t GgufTensorInfo::n_elements() const {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;  // validated not to overflow at open()
  return n;
}

GgufFile::~GgufFile() {
  if (mapping_) munmap(mapping_, mapping_size_);
}

namespace {

constexpr size_t kHugePage = size_t(2) << 20;

// size bytes of fd into anonymous memory aligned to 2 MiB and advised for huge pages, then made
// read-only. Returns the mapping (and its length in *mapped) and the data start in *data, or
// MAP_FAILED with *error empty when the memory cannot be had (the caller maps the file instead),
// or with *error set when the file cannot be read whole.
//
// The copy goes in chunks. When the kernel has to compact memory to find huge pages (memory
// fragmented by the page cache), copying runs far slower than reading: measured 0.4 GB/s against
// 3.7 GB/s with free huge pages. Below tuning.slow_bytes_per_second, once tuning.probe bytes are in, the rest of
// the file is mapped in place of the copy (a copy in 4 KiB pages would gain nothing over the
// mapping), so a load never stalls for long and keeps the huge pages it got.
void* read_into_huge_pages(int fd, size_t size, const GgufCopyTuning& tuning, size_t* mapped, const uint8_t** data,
                           std::string* error) {
  if (size > SIZE_MAX - 2 * kHugePage) return MAP_FAILED;
  const size_t len = (size + kHugePage - 1) / kHugePage * kHugePage + kHugePage;
  void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return MAP_FAILED;
  const uintptr_t start = (reinterpret_cast<uintptr_t>(m) + kHugePage - 1) & ~uintptr_t(kHugePage - 1);
  uint8_t* p = reinterpret_cast<uint8_t*>(start);
  // Advice only: without transparent huge pages the copy still works, in 4 KiB pages.
  madvise(p, len - (start - reinterpret_cast<uintptr_t>(m)), MADV_HUGEPAGE);
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  // A multiple of the page size, so that the rest of the file can be mapped at `got`.
  const size_t chunk = std::max(page, tuning.chunk / page * page);
  const auto t0 = std::chrono::steady_clock::now();
  size_t got = 0;
  while (got < size) {
    if (got >= tuning.probe) {
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (double(got) < tuning.slow_bytes_per_second * secs &&
          mmap(p + got, size - got, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, off_t(got)) != MAP_FAILED)
        break;
    }
    const size_t chunk_end = std::min(size, got + chunk);
    while (got < chunk_end) {
      ssize_t n = pread(fd, p + got, chunk_end - got, off_t(got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        *error = n < 0 ? std::string("read failed: ") + std::strerror(errno)
                       : "file shrank while being read (" + std::to_string(got) + " of " + std::to_string(size) + " bytes)";
        munmap(m, len);
        return MAP_FAILED;
      }
      got += size_t(n);
    }
  }
  mprotect(m, len, PROT_READ);
  *mapped = len;
  *data = p;
  return m;
}

}  // namespace

Result<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path, const GgufLimits& limits,
                                                  GgufMemory memory, const GgufCopyTuning& tuning) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below as not regular).
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Status::IOError(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::IOError(path + ": not a regular file");
  }
  size_t size = size_t(st.st_size);
  if (size < 24) {
    ::close(fd);
    return Status::Corruption(path + ": file too small to be GGUF (" + std::to_string(size) + " bytes)");
  }
  std::unique_ptr<GgufFile> f(new GgufFile());
  if (memory == GgufMemory::kHugePageCopy && uint64_t(size) <= tuning.max_bytes) {
    std::string error;
    void* m = read_into_huge_pages(fd, size, tuning, &f->mapping_size_, &f->base_, &error);
    if (!error.empty()) {
      ::close(fd);
      return Status::IOError(path + ": " + error);
    }
    if (m != MAP_FAILED) f->mapping_ = m, f->memory_ = GgufMemory::kHugePageCopy;
  }
  if (!f->mapping_) {
    void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      return Status::IOError(path + ": mmap failed: " + std::strerror(e));
    }
    f->mapping_ = p, f->mapping_size_ = size, f->base_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
  f->path_ = path;
  f->size_ = size;
  Status s = f->parse(limits);
  if (!s.ok()) return s.WithContext(path);
  return f;
}

Result<std::unique_ptr<GgufFile>> GgufFile::from_memory(const uint8_t* data, size_t size, const GgufLimits& limits) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = "<memory>";
  f->base_ = data;
  f->size_ = size;
  Status s = f->parse(limits);
  if (!s.ok()) return s;
  return f;
}

Status GgufFile::parse(const GgufLimits& lim) {
  Cursor c(base_, size_);
  uint32_t magic;
  MOE_RETURN_IF_ERROR(c.read(&magic, "magic"));
  if (magic != kMagic) return Status::Corruption("not a GGUF file (bad magic)");
  MOE_RETURN_IF_ERROR(c.read(&version_, "version"));
  if (version_ == 1) return Status::NotSupported("GGUF version 1 is not supported (convert the file to v3)");
  if (version_ != 2 && version_ != 3) return Status::NotSupported("unknown GGUF version " + std::to_string(version_));
  uint64_t n_tensors, n_kv;
  MOE_RETURN_IF_ERROR(c.read(&n_tensors, "tensor count"));
  MOE_RETURN_IF_ERROR(c.read(&n_kv, "metadata count"));
  if (n_tensors > lim.max_tensors) return Status::Corruption("tensor count " + std::to_string(n_tensors) + " exceeds limit");
  if (n_kv > lim.max_kv) return Status::Corruption("metadata count " + std::to_string(n_kv) + " exceeds limit");

  // A metadata pair takes at least 13 bytes (key length, type, one value byte): a count the file
  // cannot hold is rejected before the loop (found by fuzzing: huge counts made slow inputs).
  if (n_kv > c.remaining() / 13)
    return Status::Corruption("metadata count " + std::to_string(n_kv) + " does not fit in the file");
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key;
    MOE_RETURN_IF_ERROR(c.read_string(&key, 65536, "metadata key #" + std::to_string(i)));
    uint32_t type;
    MOE_RETURN_IF_ERROR(c.read(&type, "value type"));
    GgufValue v;
    MOE_RETURN_IF_ERROR(read_value(c, GgufValueType(type), &v, lim, 0, key));
    if (kv_.count(key)) return Status::Corruption("duplicate metadata key '" + key + "'");
    kv_.emplace(std::move(key), std::move(v));
  }
  if (const GgufValue* a = find("general.alignment")) {
    auto* u = std::get_if<uint64_t>(&a->v);
    if (!u || *u == 0 || *u > (1u << 20) || (*u & (*u - 1)) != 0)
      return Status::Corruption("general.alignment must be a power of two up to 1 MiB");
    alignment_ = uint32_t(*u);
  }

  // A tensor info takes at least 24 bytes (name length, n_dims, type, offset); check before resize.
  if (n_tensors > c.remaining() / 24)
    return Status::Corruption("tensor count " + std::to_string(n_tensors) + " does not fit in the file at byte " +
                              std::to_string(c.pos()));
  tensors_.resize(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo& t = tensors_[i];
    MOE_RETURN_IF_ERROR(c.read_string(&t.name, 65536, "tensor name #" + std::to_string(i)));
    uint32_t n_dims;
    MOE_RETURN_IF_ERROR(c.read(&n_dims, "tensor n_dims"));
    if (n_dims == 0 || n_dims > lim.max_dims)
      return Status::Corruption("tensor '" + t.name + "': " + std::to_string(n_dims) + " dimensions");
    t.dims.resize(n_dims);
    uint64_t n = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      MOE_RETURN_IF_ERROR(c.read(&t.dims[d], "tensor dimension"));
      if (t.dims[d] == 0 || mul_overflows(n, t.dims[d], &n) || n > (uint64_t(1) << 42))
        return Status::Corruption("tensor '" + t.name + "': absurd dimensions");
    }
    uint32_t type;
    MOE_RETURN_IF_ERROR(c.read(&type, "tensor type"));
    auto traits = ggml_type_traits(type);
    if (!traits) return Status::Corruption("tensor '" + t.name + "': unknown type id " + std::to_string(type));
    t.type = GgmlType(type);
    MOE_RETURN_IF_ERROR(c.read(&t.offset, "tensor offset"));
    if (t.dims[0] % traits->block_size != 0)
      return Status::Corruption("tensor '" + t.name + "': row length " + std::to_string(t.dims[0]) +
                                " is not a multiple of the " + traits->name + " block size");
    uint64_t rows = n / t.dims[0];
    uint64_t row_bytes = t.dims[0] / traits->block_size * traits->type_size;
    if (mul_overflows(rows, row_bytes, &t.nbytes)) return Status::Corruption("tensor '" + t.name + "': size overflows");
    if (t.offset % alignment_ != 0) return Status::Corruption("tensor '" + t.name + "': offset is not aligned");
    if (tensor_index_.count(t.name)) return Status::Corruption("duplicate tensor '" + t.name + "'");
    tensor_index_[t.name] = i;
  }
  uint64_t data_start = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (data_start > size_ && n_tensors > 0) return Status::Corruption("data section starts past end of file");
  for (auto& t : tensors_) {
    uint64_t begin, end;
    if (add_overflows(data_start, t.offset, &begin) || add_overflows(begin, t.nbytes, &end) || end > size_)
      return Status::Corruption("tensor '" + t.name + "': data extends past end of file");
    t.data = base_ + begin;
  }
  return Status::Ok();
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Result<uint64_t> GgufFile::get_uint(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return Status::NotFound("metadata key '" + std::string(key) + "' is missing");
  if (auto* u = std::get_if<uint64_t>(&v->v)) return *u;
  if (auto* i = std::get_if<int64_t>(&v->v); i && *i >= 0) return uint64_t(*i);
  return Status::InvalidArgument("metadata key '" + std::string(key) + "' is not a non-negative integer");
}

Result<int64_t> GgufFile::get_int(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return Status::NotFound("metadata key '" + std::string(key) + "' is missing");
  if (auto* i = std::get_if<int64_t>(&v->v)) return *i;
  if (auto* u = std::get_if<uint64_t>(&v->v); u && *u <= uint64_t(INT64_MAX)) return int64_t(*u);
  return Status::InvalidArgument("metadata key '" + std::string(key) + "' is not an integer");
}

Result<double> GgufFile::get_float(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return Status::NotFound("metadata key '" + std::string(key) + "' is missing");
  if (auto* d = std::get_if<double>(&v->v)) return *d;
  if (auto* u = std::get_if<uint64_t>(&v->v)) return double(*u);
  if (auto* i = std::get_if<int64_t>(&v->v)) return double(*i);
  return Status::InvalidArgument("metadata key '" + std::string(key) + "' is not a number");
}

Result<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return Status::NotFound("metadata key '" + std::string(key) + "' is missing");
  if (auto* b = std::get_if<bool>(&v->v)) return *b;
  return Status::InvalidArgument("metadata key '" + std::string(key) + "' is not a bool");
}

Result<std::string> GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return Status::NotFound("metadata key '" + std::string(key) + "' is missing");
  if (auto* s = std::get_if<std::string>(&v->v)) return *s;
  return Status::InvalidArgument("metadata key '" + std::string(key) + "' is not a string");
}

Result<const GgufArray*> GgufFile::get_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return Status::NotFound("metadata key '" + std::string(key) + "' is missing");
  if (auto* a = std::get_if<std::shared_ptr<GgufArray>>(&v->v)) return static_cast<const GgufArray*>(a->get());
  return Status::InvalidArgument("metadata key '" + std::string(key) + "' is not an array");
}

Result<uint64_t> GgufFile::get_uint_or(std::string_view key, uint64_t dflt) const {
  if (!find(key)) return dflt;
  return get_uint(key);
}

Result<double> GgufFile::get_float_or(std::string_view key, double dflt) const {
  if (!find(key)) return dflt;
  return get_float(key);
}

}  // namespace moe
