#include "engine/chat_template/lexer.h"

#include <cctype>
#include <cstdint>

#include "engine/chat_template/template_error.h"

namespace infini::chat_template {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

void strip_right(std::string& text) {
  while (!text.empty() && is_space(text.back())) text.pop_back();
}

int count_lines(std::string_view s) {
  int n = 0;
  for (const char c : s) n += c == '\n' ? 1 : 0;
  return n;
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Jinja decodes string literals with Python's unicode-escape rules; an
// unknown escape keeps its backslash.
std::string unescape(std::string_view body, int line) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 == body.size()) {
      out += body[i];
      continue;
    }
    const char c = body[++i];
    auto hex = [&](size_t digits) {
      if (i + digits >= body.size()) {
        throw TemplateError{line, "truncated \\" + std::string(1, c) + " escape in a string"};
      }
      uint32_t cp = 0;
      for (size_t k = 1; k <= digits; ++k) {
        const char h = body[i + k];
        if (!std::isxdigit(static_cast<unsigned char>(h))) {
          throw TemplateError{line, "bad \\" + std::string(1, c) + " escape in a string"};
        }
        cp = cp * 16 +
             static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h))
                                       ? h - '0'
                                       : std::tolower(static_cast<unsigned char>(h)) - 'a' + 10);
      }
      i += digits;
      append_utf8(cp, out);
    };
    switch (c) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'v':
        out += '\v';
        break;
      case '\\':
        out += '\\';
        break;
      case '\'':
        out += '\'';
        break;
      case '"':
        out += '"';
        break;
      case '\n':
        break;  // a backslash-newline continues the line
      case 'x':
        hex(2);
        break;
      case 'u':
        hex(4);
        break;
      case 'U':
        hex(8);
        break;
      default:
        if (c >= '0' && c <= '7') {
          uint32_t cp = static_cast<uint32_t>(c - '0');
          for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7';
               ++k) {
            cp = cp * 8 + static_cast<uint32_t>(body[++i] - '0');
          }
          append_utf8(cp, out);
        } else {
          out += '\\';
          out += c;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string source) : src_(std::move(source)) {}

  std::vector<Token> run() {
    size_t pos = 0;
    bool strip_next = false;  // the previous tag ended with '-'
    while (pos <= src_.size()) {
      const size_t open = find_tag(pos);
      std::string text = src_.substr(pos, open - pos);
      const int text_line = line_;
      line_ += count_lines(text);
      if (strip_next) {
        size_t k = 0;
        while (k < text.size() && is_space(text[k])) ++k;
        text.erase(0, k);
        strip_next = false;
      }
      if (open == src_.size()) {
        emit_text(std::move(text), text_line);
        break;
      }
      const char kind = src_[open + 1];  // '{', '%' or '#'
      const char sign = open + 2 < src_.size() ? src_[open + 2] : '\0';
      if (sign == '-') {
        strip_right(text);
      } else if (kind != '{' && sign != '+') {
        lstrip_block(text, pos);
      }
      emit_text(std::move(text), text_line);
      size_t at = open + 2 + (sign == '-' || sign == '+' ? 1 : 0);
      if (kind == '#') {
        pos = close_comment(at, strip_next);
      } else {
        pos = lex_tag(kind, at, strip_next);
      }
    }
    tokens_.push_back(Token{Token::Kind::kEnd, "", line_});
    return std::move(tokens_);
  }

 private:
  size_t find_tag(size_t from) const {
    for (size_t i = from; i + 1 < src_.size(); ++i) {
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) {
        return i;
      }
    }
    return src_.size();
  }

  // lstrip_blocks: spaces and tabs between a line's start and a block or
  // comment tag go.
  void lstrip_block(std::string& text, size_t text_start) const {
    const size_t after_newline = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
    const bool line_starting = text_start == 0 || src_[text_start - 1] == '\n';
    if (after_newline == 0 && !line_starting) return;
    for (size_t k = after_newline; k < text.size(); ++k) {
      if (text[k] != ' ' && text[k] != '\t') return;
    }
    text.resize(after_newline);
  }

  void emit_text(std::string text, int line) {
    if (!text.empty()) tokens_.push_back(Token{Token::Kind::kText, std::move(text), line});
  }

  // After `%}` or `#}`: '-' strips the following whitespace; otherwise
  // trim_blocks drops one newline.
  size_t after_block_end(size_t end, bool minus, bool plus, bool& strip_next) {
    if (minus) {
      strip_next = true;
    } else if (!plus && end < src_.size() && src_[end] == '\n') {
      ++line_;
      return end + 1;
    }
    return end;
  }

  size_t close_comment(size_t at, bool& strip_next) {
    const size_t close = src_.find("#}", at);
    if (close == std::string::npos)
      throw TemplateError{line_, "unclosed comment: '{#' without '#}'"};
    line_ += count_lines(std::string_view(src_).substr(at, close - at));
    const bool minus = close > at && src_[close - 1] == '-';
    const bool plus = close > at && src_[close - 1] == '+';
    return after_block_end(close + 2, minus, plus, strip_next);
  }

  size_t lex_tag(char kind, size_t at, bool& strip_next) {
    const bool block = kind == '%';
    const int start_line = line_;
    tokens_.push_back(Token{block ? Token::Kind::kBlockBegin : Token::Kind::kVarBegin,
                            block ? "{%" : "{{", line_});
    const size_t first_token = tokens_.size();
    int depth = 0;  // brackets open inside the tag: `}}` in a dict literal is not the end
    size_t i = at;
    while (true) {
      while (i < src_.size() && is_space(src_[i])) line_ += src_[i++] == '\n' ? 1 : 0;
      if (i >= src_.size()) {
        throw TemplateError{start_line, block ? "unclosed tag: '{%' without '%}'"
                                              : "unclosed tag: '{{' without '}}'"};
      }
      const char close_char = block ? '%' : '}';
      const auto closes_at = [&](size_t k) {
        return k + 1 < src_.size() && src_[k] == close_char && src_[k + 1] == '}' &&
               (block || depth == 0);
      };
      const bool sign = (src_[i] == '-' || src_[i] == '+') && closes_at(i + 1);
      if (sign || closes_at(i)) {
        const size_t end = i + (sign ? 3 : 2);
        tokens_.push_back(Token{block ? Token::Kind::kBlockEnd : Token::Kind::kVarEnd,
                                block ? "%}" : "}}", line_});
        if (block && tokens_.size() > first_token && tokens_[first_token].text == "raw") {
          return lex_raw(end, first_token);
        }
        if (!block) {
          if (sign && src_[i] == '-') strip_next = true;
          return end;
        }
        return after_block_end(end, sign && src_[i] == '-', sign && src_[i] == '+', strip_next);
      }
      i = lex_token(i, depth);
    }
  }

  // `{% raw %}...{% endraw %}`: the body is text, tags and all.
  size_t lex_raw(size_t body_start, size_t first_token) {
    tokens_.resize(first_token - 1);  // the raw tag itself produces nothing
    for (size_t k = body_start; (k = src_.find("{%", k)) != std::string::npos; k += 2) {
      size_t j = k + 2;
      const bool minus = j < src_.size() && src_[j] == '-';
      if (minus || (j < src_.size() && src_[j] == '+')) ++j;
      while (j < src_.size() && is_space(src_[j])) ++j;
      if (src_.compare(j, 6, "endraw") != 0) continue;
      j += 6;
      while (j < src_.size() && is_space(src_[j])) ++j;
      if (j < src_.size() && (src_[j] == '-' || src_[j] == '+')) ++j;
      if (src_.compare(j, 2, "%}") != 0) continue;
      std::string body = src_.substr(body_start, k - body_start);
      if (minus) strip_right(body);
      emit_text(body, line_);
      line_ += count_lines(std::string_view(src_).substr(body_start, j + 2 - body_start));
      return j + 2;
    }
    throw TemplateError{line_, "'{% raw %}' without '{% endraw %}'"};
  }

  size_t lex_token(size_t i, int& depth) {
    const char c = src_[i];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < src_.size() &&
             (std::isalnum(static_cast<unsigned char>(src_[j])) || src_[j] == '_'))
        ++j;
      tokens_.push_back(Token{Token::Kind::kName, src_.substr(i, j - i), line_});
      return j;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) return lex_number(i);
    if (c == '\'' || c == '"') return lex_string(i);
    static const char* const kTwo[] = {"**", "//", "==", "!=", "<=", ">="};
    for (const char* op : kTwo) {
      if (src_.compare(i, 2, op) == 0) {
        tokens_.push_back(Token{Token::Kind::kOperator, op, line_});
        return i + 2;
      }
    }
    if (std::string_view("+-*/%~=<>|.,:()[]{}").find(c) != std::string_view::npos) {
      if (c == '(' || c == '[' || c == '{') ++depth;
      if (c == ')' || c == ']' || c == '}') --depth;
      tokens_.push_back(Token{Token::Kind::kOperator, std::string(1, c), line_});
      return i + 1;
    }
    throw TemplateError{line_, std::string("unexpected character '") + c + "' in a tag"};
  }

  size_t lex_number(size_t i) {
    size_t j = i;
    auto digits = [&] {
      while (j < src_.size() &&
             (std::isdigit(static_cast<unsigned char>(src_[j])) || src_[j] == '_'))
        ++j;
    };
    digits();
    bool is_float = false;
    if (j + 1 < src_.size() && src_[j] == '.' &&
        std::isdigit(static_cast<unsigned char>(src_[j + 1]))) {
      is_float = true;
      ++j;
      digits();
    }
    if (j < src_.size() && (src_[j] == 'e' || src_[j] == 'E')) {
      size_t k = j + 1;
      if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
      if (k < src_.size() && std::isdigit(static_cast<unsigned char>(src_[k]))) {
        is_float = true;
        j = k;
        digits();
      }
    }
    std::string text;
    for (size_t k = i; k < j; ++k) {
      if (src_[k] != '_') text += src_[k];
    }
    tokens_.push_back(Token{is_float ? Token::Kind::kFloat : Token::Kind::kInteger, text, line_});
    return j;
  }

  size_t lex_string(size_t i) {
    const char quote = src_[i];
    const int start_line = line_;
    size_t j = i + 1;
    while (j < src_.size() && src_[j] != quote) {
      if (src_[j] == '\\') ++j;
      if (j < src_.size() && src_[j] == '\n') ++line_;
      ++j;
    }
    if (j >= src_.size()) throw TemplateError{start_line, "unterminated string literal"};
    tokens_.push_back(Token{Token::Kind::kString,
                            unescape(std::string_view(src_).substr(i + 1, j - i - 1), start_line),
                            start_line});
    return j + 1;
  }

  std::string src_;
  int line_ = 1;
  std::vector<Token> tokens_;
};

// Jinja reads \r\n and \r as \n and drops one trailing newline
// (keep_trailing_newline is off).
std::string normalize(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(normalize(source)).run(); }

}  // namespace infini::chat_template
