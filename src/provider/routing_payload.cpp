#include "provider/routing_payload.h"

#include <array>
#include <cctype>
#include <cstring>
#include <limits>

namespace wobble {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> make_reverse() {
  std::array<int8_t, 256> r{};
  for (auto& v : r) v = -1;
  for (int i = 0; i < 64; ++i) r[static_cast<unsigned char>(kAlphabet[i])] = int8_t(i);
  return r;
}
constexpr std::array<int8_t, 256> kReverse = make_reverse();

// Host order is little-endian on every target we build for; the byte-wise forms keep the wire
// format independent of that anyway.
int32_t load_le_i32(const uint8_t* p) {
  uint32_t v = uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
  return static_cast<int32_t>(v);
}
void store_le_i32(uint8_t* p, int32_t x) {
  uint32_t v = static_cast<uint32_t>(x);
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
  p[2] = uint8_t(v >> 16);
  p[3] = uint8_t(v >> 24);
}

constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr size_t kNpyMagicLen = 6;
// numpy caps header_len for files it writes far below this; a larger header is not a routing array.
constexpr size_t kMaxNpyHeader = 64 * 1024;

// A cursor over the header dict text, which is a Python literal. Only the subset numpy.save
// writes is accepted: quoted keys, string / bool / tuple-of-int values, optional trailing comma.
struct DictParser {
  std::string_view s;
  size_t i = 0;

  void skip_ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  }
  bool eat(char c) {
    skip_ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  bool string(std::string& out) {
    skip_ws();
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) return false;
    char q = s[i++];
    size_t start = i;
    while (i < s.size() && s[i] != q) {
      if (s[i] == '\\') return false;  // no escapes in any key or value we accept
      ++i;
    }
    if (i >= s.size()) return false;
    out.assign(s.substr(start, i - start));
    ++i;
    return true;
  }
  bool word(std::string_view w) {
    skip_ws();
    if (s.substr(i, w.size()) != w) return false;
    size_t end = i + w.size();
    if (end < s.size() && (std::isalnum(static_cast<unsigned char>(s[end])) || s[end] == '_')) return false;
    i = end;
    return true;
  }
  bool uint(uint64_t& out) {
    skip_ws();
    size_t start = i;
    uint64_t v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      unsigned d = unsigned(s[i] - '0');
      if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
      v = v * 10 + d;
      ++i;
    }
    if (i == start) return false;
    if (i < s.size() && s[i] == 'L') ++i;  // Python 2 long suffix, still in old files
    out = v;
    return true;
  }
  bool tuple(std::vector<uint64_t>& out) {
    if (!eat('(')) return false;
    out.clear();
    if (eat(')')) return true;
    for (;;) {
      uint64_t v;
      if (!uint(v)) return false;
      out.push_back(v);
      if (out.size() > 32) return false;  // numpy's own dimension limit
      if (eat(')')) return out.size() != 1;  // "(5)" is an int in Python, not a tuple
      if (!eat(',')) return false;
      if (eat(')')) return true;
    }
  }
};

bool parse_npy_header(std::string_view text, std::vector<uint64_t>& shape, size_t& width, std::string& error) {
  // The header ends in '\n' after space padding; anything else after the dict is refused.
  if (text.empty() || text.back() != '\n') {
    error = ".npy header does not end in a newline";
    return false;
  }
  text.remove_suffix(1);
  DictParser p{text};
  if (!p.eat('{')) {
    error = ".npy header is not a dict";
    return false;
  }
  bool have_descr = false, have_order = false, have_shape = false;
  for (;;) {
    if (p.eat('}')) break;
    std::string key;
    if (!p.string(key) || !p.eat(':')) {
      error = ".npy header: expected a quoted key and ':' at offset " + std::to_string(p.i);
      return false;
    }
    if (key == "descr") {
      std::string d;
      if (have_descr || !p.string(d)) {
        error = ".npy header: bad or repeated 'descr'";
        return false;
      }
      if (d == "<i4") width = 4;
      else if (d == "<u2") width = 2;
      else if (d == "|u1" || d == "<u1") width = 1;
      else {
        error = ".npy dtype is '" + d.substr(0, 16) + "', expected '<i4' (or '<u2' / '|u1')";
        return false;
      }
      have_descr = true;
    } else if (key == "fortran_order") {
      if (have_order) {
        error = ".npy header: repeated 'fortran_order'";
        return false;
      }
      if (p.word("True")) {
        error = ".npy array is in Fortran order; expected C order";
        return false;
      }
      if (!p.word("False")) {
        error = ".npy header: 'fortran_order' is not False";
        return false;
      }
      have_order = true;
    } else if (key == "shape") {
      if (have_shape || !p.tuple(shape)) {
        error = ".npy header: bad or repeated 'shape'";
        return false;
      }
      have_shape = true;
    } else {
      error = ".npy header: unexpected key '" + key.substr(0, 32) + "'";
      return false;
    }
    if (p.eat('}')) break;
    if (!p.eat(',')) {
      error = ".npy header: expected ',' or '}' at offset " + std::to_string(p.i);
      return false;
    }
  }
  p.skip_ws();
  if (p.i != text.size()) {
    error = ".npy header: text after the dict";
    return false;
  }
  if (!have_descr || !have_order || !have_shape) {
    error = ".npy header lacks one of 'descr', 'fortran_order', 'shape'";
    return false;
  }
  return true;
}

}  // namespace

std::string base64_encode(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = uint32_t(bytes[i]) << 16 | uint32_t(bytes[i + 1]) << 8 | bytes[i + 2];
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t(bytes[i]) << 16;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    uint32_t v = uint32_t(bytes[i]) << 16 | uint32_t(bytes[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

bool base64_decode(std::string_view text, size_t max_encoded, std::vector<uint8_t>& out, std::string& error) {
  out.clear();
  if (text.size() > max_encoded) {
    error = "base64 payload of " + std::to_string(text.size()) + " bytes is over the limit of " +
            std::to_string(max_encoded);
    return false;
  }
  if (text.size() % 4 != 0) {
    error = "base64 length " + std::to_string(text.size()) + " is not a multiple of 4 (truncated?)";
    return false;
  }
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const size_t real = last ? 4 - pad : 4;
    uint32_t v = 0;
    for (size_t j = 0; j < 4; ++j) {
      const unsigned char c = static_cast<unsigned char>(text[i + j]);
      int d = 0;
      if (j < real) {
        d = kReverse[c];
        if (d < 0) {
          error = "base64 has a byte outside the standard alphabet at offset " + std::to_string(i + j);
          out.clear();
          return false;
        }
      } else if (c != '=') {
        error = "base64 padding is malformed";
        out.clear();
        return false;
      }
      v = v << 6 | uint32_t(d);
    }
    out.push_back(uint8_t(v >> 16));
    if (real >= 3) out.push_back(uint8_t(v >> 8));
    if (real == 4) out.push_back(uint8_t(v));
    if (last && ((real == 2 && (v & 0xFFFF)) || (real == 3 && (v & 0xFF)))) {
      error = "base64 has non-zero bits after the last byte";
      out.clear();
      return false;
    }
  }
  return true;
}

std::vector<uint8_t> npy_encode_i32(std::span<const int32_t> data, std::span<const uint64_t> shape) {
  std::string dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) dict += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) dict += ',';  // "(5,)": Python's one-element tuple
  dict += "), }";
  // Pad with spaces so that magic + version + length + header is a multiple of 64, '\n' last.
  size_t prefix = kNpyMagicLen + 2 + 2;
  uint8_t major = 1;
  size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  if (total - prefix > 0xFFFF) {
    major = 2;
    prefix += 2;
    total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  }
  const size_t header_len = total - prefix;
  dict.append(header_len - dict.size() - 1, ' ');
  dict += '\n';
  std::vector<uint8_t> out(total + data.size() * 4);
  std::memcpy(out.data(), kNpyMagic, kNpyMagicLen);
  out[6] = major;
  out[7] = 0;
  if (major == 1) {
    out[8] = uint8_t(header_len);
    out[9] = uint8_t(header_len >> 8);
  } else {
    store_le_i32(out.data() + 8, int32_t(uint32_t(header_len)));
  }
  std::memcpy(out.data() + prefix, dict.data(), dict.size());
  for (size_t i = 0; i < data.size(); ++i) store_le_i32(out.data() + total + i * 4, data[i]);
  return out;
}

bool npy_decode_i32(std::span<const uint8_t> file, NpyI32& out, std::string& error) {
  out = {};
  if (file.size() < kNpyMagicLen + 4 || std::memcmp(file.data(), kNpyMagic, kNpyMagicLen) != 0) {
    error = "not a .npy file (bad magic)";
    return false;
  }
  const uint8_t major = file[6], minor = file[7];
  if (major < 1 || major > 3 || minor != 0) {
    error = ".npy version " + std::to_string(major) + "." + std::to_string(minor) + " is not 1.0, 2.0 or 3.0";
    return false;
  }
  size_t prefix = major == 1 ? 10 : 12;
  if (file.size() < prefix) {
    error = ".npy file ends inside its header length";
    return false;
  }
  size_t header_len = major == 1 ? size_t(file[8]) | size_t(file[9]) << 8
                                 : size_t(static_cast<uint32_t>(load_le_i32(file.data() + 8)));
  if (header_len > kMaxNpyHeader || header_len > file.size() - prefix) {
    error = ".npy header length " + std::to_string(header_len) + " is larger than the file or the limit";
    return false;
  }
  std::string_view text(reinterpret_cast<const char*>(file.data() + prefix), header_len);
  // 1.0 and 2.0 headers are latin-1, 3.0 UTF-8; the dict we accept is plain ASCII in all three.
  for (unsigned char c : text)
    if (c < 0x20 && c != '\n' && c != '\t') {
      error = ".npy header has a control byte";
      return false;
    }
  size_t width = 0;
  if (!parse_npy_header(text, out.shape, width, error)) return false;
  uint64_t count = 1;
  for (uint64_t d : out.shape) {
    if (d != 0 && count > std::numeric_limits<uint64_t>::max() / d) {
      error = ".npy shape overflows";
      return false;
    }
    count *= d;
  }
  const size_t payload = file.size() - prefix - header_len;
  if (count > payload / width || count * width != payload) {
    error = ".npy shape holds " + std::to_string(count) + " values of " + std::to_string(width) +
            " bytes but the data has " + std::to_string(payload) + " bytes";
    return false;
  }
  const uint8_t* p = file.data() + prefix + header_len;
  out.data.resize(size_t(count));
  for (size_t i = 0; i < out.data.size(); ++i) {
    if (width == 4) out.data[i] = load_le_i32(p + i * 4);
    else if (width == 2) out.data[i] = int32_t(uint32_t(p[i * 2]) | uint32_t(p[i * 2 + 1]) << 8);
    else out.data[i] = p[i];
  }
  return true;
}

std::vector<uint8_t> raw_i32_encode(std::span<const int32_t> data) {
  std::vector<uint8_t> out(data.size() * 4);
  for (size_t i = 0; i < data.size(); ++i) store_le_i32(out.data() + i * 4, data[i]);
  return out;
}

bool raw_i32_decode(std::span<const uint8_t> bytes, uint32_t layers, uint32_t top_k, RoutingIds& out,
                    std::string& error) {
  out = {};
  if (layers == 0 || top_k == 0) {
    error = "routing shape unknown: set provider.routing_shape {layers, top_k}";
    return false;
  }
  const uint64_t record = uint64_t(layers) * top_k * 4;  // both u32: no overflow in u64
  if (bytes.size() % record != 0) {
    error = "routing payload of " + std::to_string(bytes.size()) + " bytes is not a whole number of tokens of " +
            std::to_string(layers) + " layers x " + std::to_string(top_k) + " experts x 4 bytes";
    return false;
  }
  out.tokens = bytes.size() / record;
  out.layers = layers;
  out.top_k = top_k;
  out.ids.resize(bytes.size() / 4);
  for (size_t i = 0; i < out.ids.size(); ++i) out.ids[i] = load_le_i32(bytes.data() + i * 4);
  return true;
}

bool decode_vllm_routing(std::string_view base64_text, uint32_t expect_layers, uint32_t expect_top_k,
                         RoutingIds& out, std::string& error) {
  out = {};
  std::vector<uint8_t> bytes;
  if (!base64_decode(base64_text, kMaxRoutingBase64Bytes, bytes, error)) return false;
  NpyI32 arr;
  if (!npy_decode_i32(bytes, arr, error)) return false;
  if (arr.shape.size() != 3) {
    error = ".npy array has " + std::to_string(arr.shape.size()) + " dimensions, expected 3 (tokens, layers, top_k)";
    return false;
  }
  if (arr.shape[1] == 0 || arr.shape[2] == 0 || arr.shape[1] > 65535 || arr.shape[2] > 65535) {
    error = ".npy shape (" + std::to_string(arr.shape[0]) + ", " + std::to_string(arr.shape[1]) + ", " +
            std::to_string(arr.shape[2]) + ") has an implausible layer count or top_k";
    return false;
  }
  if ((expect_layers && arr.shape[1] != expect_layers) || (expect_top_k && arr.shape[2] != expect_top_k)) {
    error = ".npy shape has " + std::to_string(arr.shape[1]) + " layers x top_k " + std::to_string(arr.shape[2]) +
            " but provider.routing_shape says " + std::to_string(expect_layers) + " x " + std::to_string(expect_top_k);
    return false;
  }
  out.tokens = arr.shape[0];
  out.layers = uint32_t(arr.shape[1]);
  out.top_k = uint32_t(arr.shape[2]);
  out.ids = std::move(arr.data);
  return true;
}

bool decode_sglang_routing(std::string_view base64_text, uint32_t layers, uint32_t top_k, RoutingIds& out,
                           std::string& error) {
  out = {};
  std::vector<uint8_t> bytes;
  if (!base64_decode(base64_text, kMaxRoutingBase64Bytes, bytes, error)) return false;
  return raw_i32_decode(bytes, layers, top_k, out, error);
}

std::string encode_vllm_routing(const RoutingIds& ids) {
  const uint64_t shape[3] = {ids.tokens, ids.layers, ids.top_k};
  return base64_encode(npy_encode_i32(ids.ids, shape));
}

std::string encode_sglang_routing(const RoutingIds& ids) { return base64_encode(raw_i32_encode(ids.ids)); }

bool check_expert_ids(const RoutingIds& ids, uint32_t n_experts, std::string& error) {
  // RoutingTrace stores ids as u16, so 65536 bounds them even when the expert count is unknown.
  const int64_t limit = n_experts ? int64_t(n_experts) : int64_t(65536);
  for (size_t i = 0; i < ids.ids.size(); ++i) {
    const int32_t v = ids.ids[i];
    if (v < 0 || v >= limit) {
      const uint64_t per_token = uint64_t(ids.layers) * ids.top_k;
      const uint64_t token = per_token ? i / per_token : 0;
      const uint64_t layer = ids.top_k ? (i / ids.top_k) % (ids.layers ? ids.layers : 1) : 0;
      error = "expert id " + std::to_string(v) + " at token " + std::to_string(token) + ", layer " +
              std::to_string(layer) + " is outside [0, " + std::to_string(limit) + ")" +
              (n_experts ? " (provider.routing_shape.n_experts)" : "");
      return false;
    }
  }
  return true;
}

}  // namespace wobble
