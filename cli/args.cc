#include "cli/args.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace vnetctl {

std::optional<std::string> ParsedArgs::Get(const std::string& name) const {
  auto it = options.find(name);
  if (it == options.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> ParsedArgs::GetAll(const std::string& name) const {
  auto it = options.find(name);
  return it == options.end() ? std::vector<std::string>{} : it->second;
}

std::optional<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                    const std::vector<OptionSpec>& specs, std::string* error) {
  ParsedArgs parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      parsed.help = true;
      continue;
    }
    if (arg == "--") {
      parsed.positionals.insert(parsed.positionals.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      parsed.positionals.push_back(arg);
      continue;
    }
    std::string name;
    std::optional<std::string> inline_value;
    if (arg[1] == '-') {  // --name, --name=value
      name = arg.substr(2);
      if (size_t eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name.resize(eq);
      }
    } else {  // -x, -xVALUE (as getopt: -ojson is -o json), -x=VALUE
      name = arg.substr(1, 1);
      if (arg.size() > 2) inline_value = arg.substr(arg[2] == '=' ? 3 : 2);
    }
    auto spec = std::find_if(specs.begin(), specs.end(),
                             [&](const OptionSpec& s) { return s.name == name; });
    if (spec == specs.end()) {
      *error = absl::StrCat("unknown option ", arg);
      return std::nullopt;
    }
    std::vector<std::string>& values = parsed.options[name];
    if (spec->value_name.empty()) {
      if (inline_value) {
        *error = absl::StrCat(arg, ": ", name.size() == 1 ? "-" : "--", name, " takes no value");
        return std::nullopt;
      }
      values.emplace_back("true");
    } else if (inline_value) {
      values.push_back(*inline_value);
    } else if (i + 1 < args.size()) {
      values.push_back(args[++i]);
    } else {
      *error = absl::StrCat("--", name, " needs a value (", spec->value_name, ")");
      return std::nullopt;
    }
    if (!spec->repeated && values.size() > 1) {
      *error = absl::StrCat("--", name, " given more than once");
      return std::nullopt;
    }
  }
  return parsed;
}

std::string DescribeOptions(const std::vector<OptionSpec>& specs) {
  std::string out;
  for (const OptionSpec& spec : specs) {
    std::string left = absl::StrCat(spec.name.size() == 1 ? "-" : "--", spec.name,
                                    spec.value_name.empty() ? "" : " ", spec.value_name);
    absl::StrAppendFormat(&out, "  %-24s %s%s\n", left, spec.help,
                          spec.repeated ? " (repeatable)" : "");
  }
  return out;
}

}  // namespace vnetctl
