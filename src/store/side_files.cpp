#include "store/side_files.h"

#include <cstdio>
#include <cstring>
#include <istream>
#include <ostream>
#include <streambuf>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "core/error.h"

namespace facesearch {
namespace {

constexpr char kVectorsMagic[16] = {'F', 'A', 'C', 'E', 'S', 'E', 'A', 'R', 'C', 'H', '-', 'V', 'E', 'C', 'S', '\n'};
constexpr char kApproxMagic[16] = {'F', 'A', 'C', 'E', 'S', 'E', 'A', 'R', 'C', 'H', '-', 'H', 'N', 'S', 'W', '\n'};
// 1: bound to the catalog by its generation only, no checksums. 2: library id, face count, checksums.
constexpr std::uint32_t kFormatVersion = 2;
constexpr std::uint64_t kPayloadAlign = 64;
constexpr std::uint32_t kMaxFingerprintBytes = 4096;
constexpr std::uint32_t kMaxLibraryIdBytes = 256;
constexpr int kMaxDim = 65536;

const char* magic_of(SideFileKind kind) { return kind == SideFileKind::kVectors ? kVectorsMagic : kApproxMagic; }
const char* name_of(SideFileKind kind) { return kind == SideFileKind::kVectors ? "vectors" : "approximate index"; }

// Bounds-checked reads from a byte span.
class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> bytes) : bytes_(bytes) {}
  bool raw(void* out, size_t n) {
    if (bytes_.size() - at_ < n) return false;
    std::memcpy(out, bytes_.data() + at_, n);
    at_ += n;
    return true;
  }
  template <typename T>
  bool pod(T& v) {
    return raw(&v, sizeof v);
  }
  bool text(std::string& s, std::uint32_t max_bytes) {
    std::uint32_t n = 0;
    if (!pod(n) || n > max_bytes || bytes_.size() - at_ < n) return false;
    s.assign(reinterpret_cast<const char*>(bytes_.data() + at_), n);
    at_ += n;
    return true;
  }
  size_t offset() const { return at_; }

 private:
  std::span<const std::byte> bytes_;
  size_t at_ = 0;
};

template <typename T>
void write_pod(std::ostream& out, const T& v) {
  out.write(reinterpret_cast<const char*>(&v), sizeof v);
}

void write_text(std::ostream& out, const std::string& s) {
  write_pod(out, static_cast<std::uint32_t>(s.size()));
  out.write(s.data(), static_cast<std::streamsize>(s.size()));
}

// Forwards every byte to another stream buffer, hashing and counting it on the way.
class HashingStreambuf final : public std::streambuf {
 public:
  explicit HashingStreambuf(std::streambuf* dest) : dest_(dest), state_(XXH3_createState(), &XXH3_freeState) {
    if (!state_) throw std::bad_alloc();
    XXH3_64bits_reset(state_.get());
  }
  std::uint64_t digest() const { return XXH3_64bits_digest(state_.get()); }
  std::uint64_t bytes() const { return bytes_; }

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    const std::streamsize written = dest_->sputn(s, n);
    if (written > 0) {
      XXH3_64bits_update(state_.get(), s, static_cast<size_t>(written));
      bytes_ += static_cast<std::uint64_t>(written);
    }
    return written;
  }
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    const char ch = traits_type::to_char_type(c);
    return xsputn(&ch, 1) == 1 ? c : traits_type::eof();
  }
  int sync() override { return dest_->pubsync(); }

 private:
  std::streambuf* dest_;
  std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state_;
  std::uint64_t bytes_ = 0;
};

// An input stream buffer over bytes it does not own.
class SpanStreambuf final : public std::streambuf {
 public:
  explicit SpanStreambuf(std::span<const std::byte> bytes) {
    char* p = const_cast<char*>(reinterpret_cast<const char*>(bytes.data()));  // only ever read
    setg(p, p, p + bytes.size());
  }

 protected:
  // Seekable, so that a reader can compare an announced size with what is left.
  pos_type seekoff(off_type off, std::ios_base::seekdir dir, std::ios_base::openmode which) override {
    if (!(which & std::ios_base::in)) return pos_type(off_type(-1));
    const off_type base = dir == std::ios_base::beg ? 0 : dir == std::ios_base::cur ? gptr() - eback() : egptr() - eback();
    const off_type to = base + off;
    if (to < 0 || to > egptr() - eback()) return pos_type(off_type(-1));
    setg(eback(), eback() + to, egptr());
    return pos_type(to);
  }
  pos_type seekpos(pos_type pos, std::ios_base::openmode which) override {
    return seekoff(off_type(pos), std::ios_base::beg, which);
  }
};

// Header, then the exact file size: the payload must end the file.
SideFileFault read_framed(std::span<const std::byte> bytes, SideFileKind kind, SideFileHeader& header,
                          std::string& problem, std::span<const std::byte>& payload) {
  const SideFileFault fault = read_side_file_header(bytes, kind, header, problem);
  if (fault != SideFileFault::kNone) return fault;
  if (bytes.size() < header.payload_offset || bytes.size() - header.payload_offset != header.payload_bytes) {
    problem = "its size (" + std::to_string(bytes.size()) + " bytes) is not what its header announces (truncated?)";
    return SideFileFault::kDamaged;
  }
  payload = bytes.subspan(header.payload_offset);
  return SideFileFault::kNone;
}

}  // namespace

std::string SideFileHeader::record() const {
  char text[160];
  std::snprintf(text, sizeof text, "v%u generation=%lld faces=%llu ids=%016llx bytes=%llu payload=%016llx",
                static_cast<unsigned>(kFormatVersion), static_cast<long long>(generation),
                static_cast<unsigned long long>(faces), static_cast<unsigned long long>(ids_checksum),
                static_cast<unsigned long long>(payload_bytes), static_cast<unsigned long long>(payload_checksum));
  return text;
}

std::uint64_t side_file_checksum(std::span<const std::byte> bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

std::uint64_t ids_checksum(std::span<const std::int64_t> ids) { return XXH3_64bits(ids.data(), ids.size_bytes()); }

SideFileFault read_side_file_header(std::span<const std::byte> bytes, SideFileKind kind, SideFileHeader& header,
                                    std::string& problem) {
  header = SideFileHeader{};
  header.kind = kind;
  ByteReader r(bytes);
  char magic[16];
  if (!r.raw(magic, sizeof magic) || std::memcmp(magic, magic_of(kind), sizeof magic) != 0) {
    problem = std::string("it is not a facesearch ") + name_of(kind) + " file";
    return SideFileFault::kDamaged;
  }
  std::uint32_t version = 0;
  if (!r.pod(version)) {
    problem = "its header is truncated";
    return SideFileFault::kDamaged;
  }
  if (version != kFormatVersion) {
    problem = "format version " + std::to_string(version) + ", this facesearch writes " + std::to_string(kFormatVersion);
    return SideFileFault::kOtherVersion;
  }
  std::int32_t dim = 0;
  if (!r.text(header.model_fingerprint, kMaxFingerprintBytes) || !r.text(header.library_id, kMaxLibraryIdBytes) ||
      !r.pod(header.generation) || !r.pod(dim) || !r.pod(header.faces) || !r.pod(header.ids_checksum) ||
      !r.pod(header.payload_bytes) || !r.pod(header.payload_checksum)) {
    problem = "its header is truncated or damaged";
    return SideFileFault::kDamaged;
  }
  if (dim <= 0 || dim > kMaxDim) {
    problem = "its header names an impossible dimension (" + std::to_string(dim) + ")";
    return SideFileFault::kDamaged;
  }
  header.dim = dim;
  header.payload_offset = (r.offset() + kPayloadAlign - 1) / kPayloadAlign * kPayloadAlign;
  // The padding is zeros, so that every byte of the file is checked by something.
  for (size_t i = r.offset(); i < header.payload_offset && i < bytes.size(); ++i)
    if (bytes[i] != std::byte{0}) {
      problem = "its header is damaged";
      return SideFileFault::kDamaged;
    }
  return SideFileFault::kNone;
}

VectorsFileView parse_vectors_file(std::span<const std::byte> bytes) {
  VectorsFileView view;
  std::span<const std::byte> payload;
  view.fault = read_framed(bytes, SideFileKind::kVectors, view.header, view.problem, payload);
  if (view.fault != SideFileFault::kNone) return view;
  view.fault = SideFileFault::kDamaged;
  const auto& h = view.header;
  const std::uint64_t row_bytes = sizeof(std::int64_t) + static_cast<std::uint64_t>(h.dim) * sizeof(float);
  if (h.faces > payload.size() / row_bytes || h.faces * row_bytes != payload.size()) {
    view.problem = "its face count does not match its size";
    return view;
  }
  if (reinterpret_cast<std::uintptr_t>(payload.data()) % alignof(std::int64_t) != 0) {
    view.problem = "its payload is not aligned in memory";  // a caller's buffer, never a mapped file
    return view;
  }
  if (side_file_checksum(payload) != h.payload_checksum) {
    view.problem = "its checksum does not match its contents";
    return view;
  }
  const auto n = static_cast<size_t>(h.faces);
  view.ids = {reinterpret_cast<const std::int64_t*>(payload.data()), n};
  view.rows = {reinterpret_cast<const float*>(payload.data() + n * sizeof(std::int64_t)), n * static_cast<size_t>(h.dim)};
  if (ids_checksum(view.ids) != h.ids_checksum) {
    view.problem = "its ids' checksum does not match its ids";
    view.ids = {}, view.rows = {};
    return view;
  }
  view.fault = SideFileFault::kNone;
  return view;
}

ApproxIndexFile parse_approx_index_file(std::span<const std::byte> bytes, bool verify_checksum) {
  ApproxIndexFile file;
  std::span<const std::byte> payload;
  file.fault = read_framed(bytes, SideFileKind::kApproxIndex, file.header, file.problem, payload);
  if (file.fault != SideFileFault::kNone) return file;
  file.fault = SideFileFault::kDamaged;
  if (verify_checksum && side_file_checksum(payload) != file.header.payload_checksum) {
    file.problem = "its checksum does not match its contents";
    return file;
  }
  SpanStreambuf buf(payload);
  std::istream in(&buf);
  try {
    file.index = load_approx_index(in, file.header.dim);
  } catch (const std::exception& e) {  // Error for what does not parse, bad_alloc for sizes beyond memory
    file.problem = e.what();
    return file;
  }
  if (in.peek() != std::istream::traits_type::eof()) {
    file.index.reset();
    file.problem = "it has bytes after the graph";
    return file;
  }
  if (file.index->size() != file.header.faces) {
    file.index.reset();
    file.problem = "its graph does not hold the number of faces its header announces";
    return file;
  }
  file.fault = SideFileFault::kNone;
  return file;
}

void write_side_file(std::ostream& out, SideFileHeader& header, const std::function<void(std::ostream&)>& write_payload) {
  const auto start = out.tellp();
  out.write(magic_of(header.kind), 16);
  write_pod(out, kFormatVersion);
  write_text(out, header.model_fingerprint);
  write_text(out, header.library_id);
  write_pod(out, header.generation);
  write_pod(out, static_cast<std::int32_t>(header.dim));
  write_pod(out, header.faces);
  write_pod(out, header.ids_checksum);
  const auto payload_fields = out.tellp();
  write_pod(out, std::uint64_t{0});  // payload size and checksum, filled in below
  write_pod(out, std::uint64_t{0});
  // Zeros up to a 64-byte boundary, so that a mapped file's ids and rows are aligned.
  const auto at = static_cast<std::uint64_t>(out.tellp() - start);
  const std::string padding((kPayloadAlign - at % kPayloadAlign) % kPayloadAlign, '\0');
  out.write(padding.data(), static_cast<std::streamsize>(padding.size()));
  header.payload_offset = static_cast<std::uint64_t>(out.tellp() - start);
  if (!out) throw Error(ErrorCode::kIo, std::string("cannot write the ") + name_of(header.kind) + " file's header");

  HashingStreambuf hashing(out.rdbuf());
  std::ostream payload_out(&hashing);
  write_payload(payload_out);
  payload_out.flush();
  if (!payload_out) out.setstate(std::ios::badbit);
  header.payload_bytes = hashing.bytes();
  header.payload_checksum = hashing.digest();

  out.seekp(payload_fields);
  write_pod(out, header.payload_bytes);
  write_pod(out, header.payload_checksum);
  out.seekp(0, std::ios::end);
}

}  // namespace facesearch
