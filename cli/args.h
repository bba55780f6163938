// A small command-line parser for vnetctl's subcommands: declared options (with or
// without a value, repeatable), positionals, `--opt value` and `--opt=value`.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vnetctl {

struct OptionSpec {
  std::string name;        // without the leading "--"; a one-letter name also matches "-x"
  std::string value_name;  // empty: a flag with no value
  std::string help;
  bool repeated = false;
};

struct ParsedArgs {
  std::map<std::string, std::vector<std::string>> options;
  std::vector<std::string> positionals;
  bool help = false;

  bool Has(const std::string& name) const { return options.count(name) != 0; }
  std::optional<std::string> Get(const std::string& name) const;
  std::vector<std::string> GetAll(const std::string& name) const;
};

// Parses `args` against `specs`. On an unknown option or a missing value returns nullopt
// and writes the reason to `error`.
std::optional<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                    const std::vector<OptionSpec>& specs, std::string* error);

// "  --name VALUE   help" lines for a usage text.
std::string DescribeOptions(const std::vector<OptionSpec>& specs);

}  // namespace vnetctl
