#include "tools/import/text_source.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace polku::import {
namespace {

// Bytes asked of the file at a time.
constexpr size_t kChunkBytes = 1 << 16;

}  // namespace

absl::StatusOr<std::unique_ptr<TextFile>> TextFile::Open(
    const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    const int error = errno;
    std::string message = absl::StrCat(path, ": ", std::strerror(error));
    return error == ENOENT ? absl::NotFoundError(message)
                           : absl::PermissionDeniedError(message);
  }
  int64_t size = -1;
  if (std::fseek(file, 0, SEEK_END) == 0) {
    size = std::ftell(file);
    std::rewind(file);
  }
  return std::unique_ptr<TextFile>(new TextFile(path, file, size));
}

TextFile::~TextFile() { std::fclose(file_); }

bool TextFile::ReadMore(std::string& buffer, size_t max) {
  const size_t old_size = buffer.size();
  buffer.resize(old_size + max);
  const size_t read = std::fread(buffer.data() + old_size, 1, max, file_);
  buffer.resize(old_size + read);
  if (read == 0 && std::ferror(file_)) {
    status_ = absl::DataLossError(
        absl::StrCat(path_, ": reading failed: ", std::strerror(errno)));
  }
  return read > 0;
}

std::optional<size_t> FirstInvalidUtf8(absl::string_view text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t size = text.size();
  size_t i = 0;
  while (i < size) {
    const unsigned char c = bytes[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int length;
    uint32_t code;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
      code = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      code = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      code = c & 0x07;
    } else {
      return i;  // a continuation byte, or never valid (C0, C1, F5–FF)
    }
    if (i + length > size) return i;
    for (int k = 1; k < length; ++k) {
      if ((bytes[i + k] & 0xC0) != 0x80) return i;
      code = (code << 6) | (bytes[i + k] & 0x3F);
    }
    // Overlong forms, surrogates, beyond U+10FFFF.
    if ((length == 3 && code < 0x800) || (length == 4 && code < 0x10000) ||
        (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) {
      return i;
    }
    i += length;
  }
  return std::nullopt;
}

bool RecordReader::Fill(size_t bytes) {
  // Bounded: each round either reads more or ends.
  while (buffer_.size() - pos_ < bytes) {
    if (pos_ > 0 && pos_ >= buffer_.size() / 2) {
      buffer_.erase(0, pos_);
      pos_ = 0;
    }
    if (!file_.ReadMore(buffer_, std::max(kChunkBytes, bytes))) return false;
  }
  return true;
}

void RecordReader::CheckUtf8(RawRecord& record) {
  std::optional<size_t> bad = FirstInvalidUtf8(record.text);
  if (!bad.has_value()) return;
  // Where in the file: the record may span lines.
  const absl::string_view before =
      absl::string_view(record.text).substr(0, *bad);
  const size_t newline = before.rfind('\n');
  const int64_t lines_before = std::count(before.begin(), before.end(), '\n');
  const size_t column =
      newline == absl::string_view::npos ? *bad + 1 : *bad - newline;
  record.error = absl::StrFormat(
      "not valid UTF-8 (byte 0x%02X at line %d, byte %d of the line); save "
      "the file as UTF-8",
      static_cast<unsigned char>(record.text[*bad]), record.line + lines_before,
      column);
}

bool CsvReader::Next(RawRecord& record) {
  enum class State { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted };
  // Bounded by the file: every round consumes at least one line.
  while (true) {
    if (at_start_) {
      at_start_ = false;
      if (Fill(3) && buffer_.compare(pos_, 3, "\xEF\xBB\xBF") == 0) {
        pos_ += 3;
        consumed_bytes_ += 3;
      }
    }
    if (!Fill(1)) return false;
    record.line = line_;
    record.fields.clear();
    record.text.clear();
    record.error.clear();

    State state = State::kFieldStart;
    std::string field;
    int64_t lines_inside = 0;
    // Offsets from pos_ (Fill may move the buffer, never the record).
    size_t k = 0;
    size_t end = 0;       // where the record's text ends
    size_t line_end = 0;  // bytes of the line end after it
    std::string error;
    while (true) {
      if (k >= kMaxRecordBytes) {
        error = absl::StrCat("the record is longer than ", kMaxRecordBytes,
                             " bytes (an unclosed quote?)");
        break;
      }
      if (pos_ + k >= buffer_.size() && !Fill(k + 1)) {
        if (state == State::kQuoted) {
          error = absl::StrCat("field ", record.fields.size() + 1,
                               ": a quoted field is never closed");
        } else {
          record.fields.push_back(std::move(field));
          end = k;
        }
        break;
      }
      const char c = buffer_[pos_ + k];
      const bool crlf =
          c == '\r' && Fill(k + 2) && buffer_[pos_ + k + 1] == '\n';
      const bool line_ends = c == '\n' || crlf;
      if (state == State::kQuoted) {
        if (c == '"') {
          state = State::kQuoteInQuoted;
        } else {
          if (c == '\n') ++lines_inside;
          field += c;
        }
        ++k;
        continue;
      }
      if (line_ends) {
        record.fields.push_back(std::move(field));
        end = k;
        line_end = crlf ? 2 : 1;
        break;
      }
      if (c == ',') {
        record.fields.push_back(std::move(field));
        field.clear();
        state = State::kFieldStart;
      } else if (c == '"') {
        if (state == State::kFieldStart) {
          state = State::kQuoted;
        } else if (state == State::kQuoteInQuoted) {
          field += '"';
          state = State::kQuoted;
        } else {
          error = absl::StrCat("field ", record.fields.size() + 1,
                               ": a quote inside an unquoted field (quote "
                               "the whole field and double the quote)");
          break;
        }
      } else if (state == State::kQuoteInQuoted) {
        error = absl::StrCat("field ", record.fields.size() + 1,
                             ": text after the closing quote");
        break;
      } else {
        field += c;
        state = State::kUnquoted;
      }
      ++k;
    }
    std::string wrong_width;
    if (error.empty() && expected_fields_ > 0 &&
        record.fields.size() != expected_fields_ &&
        !(record.fields.size() == 1 && end == 0)) {
      wrong_width = absl::StrCat(record.fields.size(),
                                 " fields; the header has ", expected_fields_);
      // Spread over lines, it may have swallowed records: read them again.
      if (lines_inside > 0) error = std::move(wrong_width);
    }

    if (!error.empty()) {
      // Resume on the next line: what an unclosed quote ran over is read
      // again.
      Fill(std::min(k + 1, kMaxRecordBytes));
      const size_t newline = buffer_.find('\n', pos_);
      const size_t stop =
          newline == std::string::npos ? buffer_.size() : newline;
      record.text = buffer_.substr(pos_, stop - pos_);
      if (!record.text.empty() && record.text.back() == '\r') {
        record.text.pop_back();
      }
      record.fields.clear();
      record.error = std::move(error);
      const size_t skip =
          newline == std::string::npos ? stop - pos_ : stop - pos_ + 1;
      consumed_bytes_ += skip;
      pos_ += skip;
      line_ += 1;
      // The line runs past what is buffered (a huge line): drop the rest.
      if (newline == std::string::npos) DropRestOfLine();
      return true;
    }

    record.text = buffer_.substr(pos_, end);
    pos_ += end + line_end;
    consumed_bytes_ += end + line_end;
    line_ += lines_inside + (line_end > 0 ? 1 : 0);
    if (record.text.empty()) continue;  // a blank line
    CheckUtf8(record);
    if (record.error.empty() && !wrong_width.empty()) {
      record.error = std::move(wrong_width);
    }
    if (!record.error.empty()) record.fields.clear();
    return true;
  }
}

void RecordReader::DropRestOfLine() {
  while (true) {
    buffer_.clear();
    pos_ = 0;
    if (!file_.ReadMore(buffer_, kChunkBytes)) return;
    const size_t newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      consumed_bytes_ += newline + 1;
      pos_ = newline + 1;
      return;
    }
    consumed_bytes_ += buffer_.size();
  }
}

bool LineReader::Next(RawRecord& record) {
  while (true) {
    if (!Fill(1)) return false;
    record.line = line_;
    record.fields.clear();
    record.error.clear();
    size_t newline = buffer_.find('\n', pos_);
    while (newline == std::string::npos &&
           buffer_.size() - pos_ <= kMaxRecordBytes &&
           Fill(buffer_.size() - pos_ + 1)) {
      newline = buffer_.find('\n', pos_);
    }
    // Too long, whether or not its end was read with it.
    const size_t length =
        (newline == std::string::npos ? buffer_.size() : newline) - pos_;
    if (length > kMaxRecordBytes) {
      record.text = buffer_.substr(pos_, 200);
      record.error =
          absl::StrCat("the line is longer than ", kMaxRecordBytes, " bytes");
      if (newline != std::string::npos) {
        consumed_bytes_ += newline + 1 - pos_;
        pos_ = newline + 1;
      } else {
        consumed_bytes_ += buffer_.size() - pos_;
        DropRestOfLine();
      }
      ++line_;
      return true;
    }
    const size_t stop = newline == std::string::npos ? buffer_.size() : newline;
    record.text = buffer_.substr(pos_, stop - pos_);
    const size_t taken = stop - pos_ + (newline == std::string::npos ? 0 : 1);
    pos_ += taken;
    consumed_bytes_ += taken;
    ++line_;
    if (!record.text.empty() && record.text.back() == '\r') {
      record.text.pop_back();
    }
    if (record.text.find_first_not_of(" \t") == std::string::npos) continue;
    CheckUtf8(record);
    return true;
  }
}

}  // namespace polku::import
