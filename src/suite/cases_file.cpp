// Cases from a data file (JSONL or CSV) and ${ENV} expansion for provider fields.
//
// Both are user input read before any model call, so every error names the data file and the line
// a user can open in an editor; nothing here trusts a row's shape.
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "suite/suite.h"
#include "util/bounded_read.h"
#include "util/error.h"
#include "util/text_policy.h"

namespace wobble {
namespace {

using nlohmann::json;

// Rows count toward kMaxCasesFileRows; the message says the limit rather than truncating silently.
void check_row_budget(size_t rows, const std::string& path, int line) {
  if (rows >= kMaxCasesFileRows)
    throw ConfigError(path, line, "cases_file",
                      "more than " + std::to_string(kMaxCasesFileRows) + " cases; split the file or the suite");
}

void check_id(const std::string& id, const std::string& path, int line, std::map<std::string, int>& seen) {
  if (id.empty()) throw ConfigError(path, line, "id", "a case needs a non-empty 'id'");
  if (auto [it, fresh] = seen.emplace(id, line); !fresh)
    throw ConfigError(path, line, "id",
                      "duplicate case id '" + id + "' (first on line " + std::to_string(it->second) + ")");
}

// JSON scalars become the text a template substitutes; anything nested is a mistake in a var.
std::string var_text(const json& v, const std::string& path, int line, const std::string& name) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number() || v.is_boolean()) return dump_json(v);
  throw ConfigError(path, line, "vars." + name, "a variable is a string, number or boolean");
}

std::vector<Case> load_jsonl(const std::string& path, const std::string& text, const Rubric& rubric) {
  std::vector<Case> out;
  std::map<std::string, int> seen;
  size_t pos = 0;
  int line = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string row = text.substr(pos, end - pos);
    pos = end + 1;
    ++line;
    if (!row.empty() && row.back() == '\r') row.pop_back();
    if (row.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines separate nothing
    check_row_budget(out.size(), path, line);
    json j;
    try {
      j = json::parse(row);
    } catch (const json::parse_error& e) {
      throw ConfigError(path, line, "", std::string("malformed JSON row: ") + e.what());
    }
    if (!j.is_object()) throw ConfigError(path, line, "", "each row is a JSON object with id, vars and tags");
    Case c;
    for (const auto& [key, value] : j.items()) {
      if (key == "id") {
        if (!value.is_string()) throw ConfigError(path, line, "id", "must be a string");
        c.id = value.get<std::string>();
      } else if (key == "description") {
        if (!value.is_string()) throw ConfigError(path, line, "description", "must be a string");
        c.description = value.get<std::string>();
      } else if (key == "vars") {
        if (!value.is_object()) throw ConfigError(path, line, "vars", "must be an object of name: value");
        for (const auto& [name, v] : value.items()) c.vars[name] = var_text(v, path, line, name);
      } else if (key == "tags") {
        if (!value.is_array()) throw ConfigError(path, line, "tags", "must be an array of strings");
        for (const auto& t : value) {
          if (!t.is_string()) throw ConfigError(path, line, "tags", "must be an array of strings");
          c.tags.push_back(t.get<std::string>());
        }
      } else {
        throw ConfigError(path, line, key, "unknown key '" + key + "' (a row has id, vars, tags, description)");
      }
    }
    if (!j.contains("id")) throw ConfigError(path, line, "id", "row has no 'id'");
    check_id(c.id, path, line, seen);
    c.rubric = rubric;
    out.push_back(std::move(c));
  }
  return out;
}

// RFC 4180 records: fields split on ',', records on CRLF or LF; a quoted field may hold commas,
// line breaks and "" for a quote. Each record carries the line it starts on.
struct CsvRecord {
  int line = 0;
  std::vector<std::string> fields;
};

std::vector<CsvRecord> parse_csv(const std::string& path, const std::string& text) {
  std::vector<CsvRecord> records;
  size_t i = 0;
  int line = 1;
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;  // a UTF-8 BOM that spreadsheets write
  while (i < text.size()) {
    CsvRecord rec;
    rec.line = line;
    std::string field;
    bool record_done = false;
    while (!record_done) {
      field.clear();
      if (i < text.size() && text[i] == '"') {
        const int opened = line;
        ++i;
        for (;;) {
          if (i >= text.size())
            throw ConfigError(path, opened, "", "quoted field is never closed (a '\"' inside a field is written '\"\"')");
          char ch = text[i++];
          if (ch == '"') {
            if (i < text.size() && text[i] == '"') {
              field += '"';
              ++i;
              continue;
            }
            break;
          }
          if (ch == '\n') ++line;
          field += ch;
        }
        if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
          throw ConfigError(path, line, "", "text after a closing quote; quote the whole field");
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          if (text[i] == '"')
            throw ConfigError(path, line, "", "a '\"' inside an unquoted field; quote the field and double the quote");
          field += text[i++];
        }
      }
      rec.fields.push_back(field);
      if (i < text.size() && text[i] == ',') {
        ++i;
        continue;
      }
      if (i < text.size() && text[i] == '\r') ++i;
      if (i < text.size() && text[i] == '\n') ++i;
      ++line;
      record_done = true;
    }
    // A record that is one empty field is a blank line, not a row.
    if (rec.fields.size() == 1 && rec.fields[0].empty()) continue;
    check_row_budget(records.size(), path, rec.line);
    records.push_back(std::move(rec));
  }
  return records;
}

std::vector<std::string> split_tags(const std::string& text) {
  std::vector<std::string> tags;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(';', start);
    if (end == std::string::npos) end = text.size();
    std::string t = text.substr(start, end - start);
    auto first = t.find_first_not_of(" \t"), last = t.find_last_not_of(" \t");
    if (first != std::string::npos) tags.push_back(t.substr(first, last - first + 1));
    start = end + 1;
  }
  return tags;
}

std::vector<Case> load_csv(const std::string& path, const std::string& text, const Rubric& rubric) {
  auto records = parse_csv(path, text);
  if (records.empty()) throw ConfigError(path, 1, "", "no header row (id, tags, description, vars.NAME columns)");
  const CsvRecord& header = records.front();
  std::set<std::string> columns;
  int id_col = -1;
  for (size_t k = 0; k < header.fields.size(); ++k) {
    const std::string& col = header.fields[k];
    if (!columns.insert(col).second) throw ConfigError(path, header.line, col, "duplicate column '" + col + "'");
    if (col == "id") id_col = int(k);
    else if (col == "tags" || col == "description") continue;
    else if (col.rfind("vars.", 0) == 0 && col.size() > 5) continue;
    else
      throw ConfigError(path, header.line, col,
                        "unknown column '" + col + "' (columns are id, tags, description and vars.NAME)");
  }
  if (id_col < 0) throw ConfigError(path, header.line, "id", "the header has no 'id' column");
  std::vector<Case> out;
  std::map<std::string, int> seen;
  for (size_t r = 1; r < records.size(); ++r) {
    const CsvRecord& rec = records[r];
    if (rec.fields.size() != header.fields.size())
      throw ConfigError(path, rec.line, "",
                        "row has " + std::to_string(rec.fields.size()) + " fields, the header has " +
                            std::to_string(header.fields.size()));
    Case c;
    for (size_t k = 0; k < rec.fields.size(); ++k) {
      const std::string& col = header.fields[k];
      if (col == "id") c.id = rec.fields[k];
      else if (col == "tags") c.tags = split_tags(rec.fields[k]);
      else if (col == "description") c.description = rec.fields[k];
      else c.vars[col.substr(5)] = rec.fields[k];
    }
    check_id(c.id, path, rec.line, seen);
    c.rubric = rubric;
    out.push_back(std::move(c));
  }
  return out;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

std::vector<Case> load_cases_file(const std::string& path, const Rubric& rubric) {
  std::string lower = path;
  for (auto& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  const bool jsonl = ends_with(lower, ".jsonl"), csv = ends_with(lower, ".csv");
  if (!jsonl && !csv) throw ConfigError(path, 0, "cases_file", "a cases file ends in .jsonl or .csv");
  std::string text = read_file_bounded(path);
  auto cases = jsonl ? load_jsonl(path, text, rubric) : load_csv(path, text, rubric);
  if (cases.empty()) throw ConfigError(path, 0, "cases_file", "the file holds no cases");
  return cases;
}

std::string expand_env(const std::string& text, const std::string& file, int line, const std::string& field) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '$' || i + 1 >= text.size() || text[i + 1] != '{') {
      out += text[i++];
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == std::string::npos) throw ConfigError(file, line, field, "'${' without a closing '}'");
    std::string name = text.substr(i + 2, close - i - 2);
    bool valid = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
    for (char ch : name) valid = valid && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_');
    if (!valid)
      throw ConfigError(file, line, field, "'${" + clip_utf8(name, 40) + "}' is not a variable name (A-Z a-z 0-9 _)");
    const char* value = std::getenv(name.c_str());
    if (!value) throw ConfigError(file, line, field, "environment variable '" + name + "' is not set");
    out += value;
    i = close + 1;
  }
  return out;
}

}  // namespace wobble
