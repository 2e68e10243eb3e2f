// A Dockerfile as the image tests read it: stages, their instructions,
// ENV, and the build context that .dockerignore leaves, so that a test can
// lay out what a build stage's COPYs give it and run the stage's configure
// step without Docker.
#pragma once

#include "tests/e2e/deploy_files.h"

namespace infini::e2e {

struct Instruction {
  std::string keyword;  // upper case
  std::string args;
};

struct Stage {
  std::string from;  // the image, ARG defaults substituted
  std::string name;
  std::vector<Instruction> instructions;
};

inline fs::path dockerfile_path() { return fs::path(INFINI_SOURCE_DIR) / "Dockerfile"; }

// The Dockerfile's stages; continuation lines joined, comments dropped.
inline std::vector<Stage> parse_dockerfile(const std::string& text) {
  std::map<std::string, std::string> args;  // ARGs before the first FROM
  std::vector<Stage> stages;
  std::istringstream in(text);
  std::string line, logical;
  const auto flush = [&] {
    const std::string s = trim(logical);
    logical.clear();
    if (s.empty()) return;
    const size_t sp = s.find_first_of(" \t");
    Instruction ins;
    ins.keyword = s.substr(0, sp);
    std::transform(ins.keyword.begin(), ins.keyword.end(), ins.keyword.begin(), ::toupper);
    ins.args = sp == std::string::npos ? "" : trim(s.substr(sp));
    if (ins.keyword == "ARG" && stages.empty()) {
      const size_t eq = ins.args.find('=');
      if (eq != std::string::npos) args[ins.args.substr(0, eq)] = ins.args.substr(eq + 1);
    }
    if (ins.keyword == "FROM") {
      Stage stage;
      std::istringstream words(ins.args);
      std::vector<std::string> w;
      for (std::string x; words >> x;) {
        if (x.rfind("--", 0) != 0) w.push_back(x);
      }
      stage.from = w.empty() ? "" : w[0];
      for (const auto& [k, v] : args) {
        for (const std::string ref : {"${" + k + "}", "$" + k}) {
          for (size_t pos; (pos = stage.from.find(ref)) != std::string::npos;) {
            stage.from.replace(pos, ref.size(), v);
          }
        }
      }
      if (w.size() >= 3) stage.name = w[2];
      stages.push_back(stage);
      return;
    }
    if (!stages.empty()) stages.back().instructions.push_back(ins);
  };
  while (std::getline(in, line)) {
    const std::string t = trim(line);
    if (t.rfind("#", 0) == 0) continue;  // comments (and parser directives)
    if (!t.empty() && t.back() == '\\') {
      logical += t.substr(0, t.size() - 1) + " ";
      continue;
    }
    logical += t;
    flush();
  }
  flush();
  return stages;
}

inline std::vector<Stage> dockerfile_stages() {
  return parse_dockerfile(read_file(dockerfile_path()));
}

// Words of an instruction's arguments, double and single quotes removed.
inline std::vector<std::string> shell_words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else {
        word += c;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(word);
  return words;
}

// The words after the options: `COPY --from=build a b /dest` -> a b /dest.
inline std::vector<std::string> operands(const std::string& args) {
  std::vector<std::string> out;
  for (const auto& w : shell_words(args)) {
    if (w.rfind("--", 0) != 0) out.push_back(w);
  }
  return out;
}

inline bool stage_has(const Stage& s, const std::string& keyword, const std::string& text) {
  for (const auto& i : s.instructions) {
    if (i.keyword == keyword && i.args.find(text) != std::string::npos) return true;
  }
  return false;
}

// The environment a stage's ENV instructions set (both `K=V ...` and `K V`).
inline std::map<std::string, std::string> stage_env(const Stage& stage) {
  std::map<std::string, std::string> env;
  for (const auto& i : stage.instructions) {
    if (i.keyword != "ENV") continue;
    const auto words = shell_words(i.args);
    if (!words.empty() && words[0].find('=') == std::string::npos) {
      env[words[0]] = trim(i.args.substr(i.args.find(words[0]) + words[0].size()));
      continue;
    }
    for (const auto& w : words) {
      const size_t eq = w.find('=');
      if (eq != std::string::npos) env[w.substr(0, eq)] = w.substr(eq + 1);
    }
  }
  return env;
}

// Where the runtime stage puts models/demo (COPY models/demo DEST).
inline std::string image_model_dir(const Stage& runtime) {
  for (const auto& i : runtime.instructions) {
    if (i.keyword != "COPY" && i.keyword != "ADD") continue;
    const auto w = operands(i.args);
    if (w.size() == 2 && fs::path(w[0]).lexically_normal() == "models/demo") {
      return fs::path(w[1]).lexically_normal().string();
    }
  }
  return "";
}

// ---- the build context ----

// .dockerignore's patterns, matched as Docker matches them: a path is left
// out when the last pattern that matches it or one of its parent
// directories is not a `!` exception; `**` spans directories, `*` and `?`
// stay within one.
class DockerIgnore {
 public:
  static DockerIgnore load(const fs::path& file) {
    DockerIgnore ignore;
    std::istringstream in(fs::exists(file) ? read_file(file) : "");
    for (std::string line; std::getline(in, line);) {
      std::string p = trim(line);
      if (p.empty() || p[0] == '#') continue;
      const bool exception = p[0] == '!';
      if (exception) p = trim(p.substr(1));
      while (p.rfind("./", 0) == 0) p = p.substr(2);
      while (!p.empty() && p[0] == '/') p = p.substr(1);
      while (p.size() > 1 && p.back() == '/') p.pop_back();
      ignore.patterns_.push_back({std::regex(to_regex(p)), exception});
    }
    return ignore;
  }

  // `path` relative to the context root, '/'-separated.
  bool excluded(const std::string& path) const {
    bool out = false;
    for (const auto& [pattern, exception] : patterns_) {
      bool match = std::regex_match(path, pattern);
      for (size_t slash = path.find('/'); !match && slash != std::string::npos;
           slash = path.find('/', slash + 1)) {
        match = std::regex_match(path.substr(0, slash), pattern);
      }
      if (match) out = !exception;
    }
    return out;
  }

 private:
  static std::string to_regex(const std::string& glob) {
    std::string re;
    for (size_t i = 0; i < glob.size(); ++i) {
      const char c = glob[i];
      if (c == '*' && i + 1 < glob.size() && glob[i + 1] == '*') {
        ++i;
        if (i + 1 < glob.size() && glob[i + 1] == '/') {
          ++i;
          re += "(?:.*/)?";
        } else {
          re += ".*";
        }
      } else if (c == '*') {
        re += "[^/]*";
      } else if (c == '?') {
        re += "[^/]";
      } else if (std::strchr(".+()^$|{}\\", c) != nullptr) {
        re += '\\';
        re += c;
      } else {
        re += c;  // letters, '/', and [...] classes as they are
      }
    }
    return re;
  }

  std::vector<std::pair<std::regex, bool>> patterns_;
};

// The files of `source` (relative to the context root, a file or a
// directory) that the build context holds, relative to the context root.
inline std::vector<std::string> context_files(const fs::path& root, const std::string& source,
                                              const DockerIgnore& ignore) {
  std::vector<std::string> files;
  const fs::path start = root / source;
  if (fs::is_regular_file(start)) {
    const std::string rel = fs::path(source).lexically_normal().generic_string();
    if (!ignore.excluded(rel)) files.push_back(rel);
    return files;
  }
  if (!fs::is_directory(start)) return files;
  for (const auto& e : fs::recursive_directory_iterator(start)) {
    if (!e.is_regular_file()) continue;
    const std::string rel = e.path().lexically_relative(root).generic_string();
    if (!ignore.excluded(rel)) files.push_back(rel);
  }
  return files;
}

// The build inputs (C++, CUDA, proto, CMake files, linker maps) under the
// sources of `stage`'s context COPYs that .dockerignore leaves out: a CMake
// glob would silently build without them.
inline std::vector<std::string> build_inputs_left_out(const Stage& stage, const fs::path& context,
                                                      const DockerIgnore& ignore) {
  static const std::set<std::string> extensions = {".cc",  ".cpp",   ".h",     ".hpp", ".cu",
                                                   ".cuh", ".proto", ".cmake", ".map"};
  std::vector<std::string> left_out;
  for (const auto& i : stage.instructions) {
    if ((i.keyword != "COPY" && i.keyword != "ADD") || i.args.find("--from") != std::string::npos) {
      continue;
    }
    const auto words = operands(i.args);
    for (size_t k = 0; k + 1 < words.size(); ++k) {
      const fs::path start = context / words[k];
      if (!fs::is_directory(start)) continue;
      for (const auto& e : fs::recursive_directory_iterator(start)) {
        const fs::path& f = e.path();
        if (!e.is_regular_file() ||
            (extensions.count(f.extension().string()) == 0 && f.filename() != "CMakeLists.txt")) {
          continue;
        }
        const std::string rel = f.lexically_relative(context).generic_string();
        if (ignore.excluded(rel)) left_out.push_back(rel);
      }
    }
  }
  return left_out;
}

// Lays out under `out` (as if it were the container's /) what the COPY
// instructions of `stage` that read the build context give it, with
// .dockerignore applied; returns the stage's last WORKDIR (default /).
// Throws when a COPY source is missing from the context.
inline std::string lay_out_stage_context(const Stage& stage, const fs::path& context,
                                         const DockerIgnore& ignore, const fs::path& out) {
  std::string workdir = "/";
  for (const auto& i : stage.instructions) {
    if (i.keyword == "WORKDIR") {
      workdir = (fs::path(workdir) / i.args).lexically_normal().string();
      continue;
    }
    if ((i.keyword != "COPY" && i.keyword != "ADD") || i.args.find("--from") != std::string::npos) {
      continue;
    }
    const auto words = operands(i.args);
    if (words.size() < 2) continue;
    const std::string& dest_word = words.back();
    const fs::path dest = (fs::path(workdir) / dest_word).lexically_normal();
    const bool into_directory = words.size() > 2 || dest_word.back() == '/';
    for (size_t k = 0; k + 1 < words.size(); ++k) {
      const std::string source = fs::path(words[k]).lexically_normal().generic_string();
      const auto files = context_files(context, source, ignore);
      if (files.empty()) {
        throw std::runtime_error(i.keyword + " " + i.args + ": " + source +
                                 " is not in the build context (missing, or left out by "
                                 ".dockerignore)");
      }
      const bool directory = fs::is_directory(context / source);
      for (const auto& f : files) {
        fs::path target;
        if (directory) {
          target = dest / fs::path(f).lexically_relative(source);
        } else {
          target = into_directory ? dest / fs::path(f).filename() : dest;
        }
        const fs::path on_disk = out / target.relative_path();
        fs::create_directories(on_disk.parent_path());
        fs::copy_file(context / f, on_disk, fs::copy_options::overwrite_existing);
      }
    }
  }
  return workdir;
}

}  // namespace infini::e2e
