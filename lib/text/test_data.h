// Reads lib/text/testdata/ for the tests: lines, without '#' comments and
// blank lines, split at tabs.
#ifndef POLKU_LIB_TEXT_TEST_DATA_H_
#define POLKU_LIB_TEXT_TEST_DATA_H_

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace polku::text {

inline std::vector<std::vector<std::string>> ReadTestData(
    const std::string& name) {
  const std::string path = std::string(POLKU_TEXT_TESTDATA) + "/" + name;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    rows.push_back(absl::StrSplit(line, '\t'));
  }
  return rows;
}

}  // namespace polku::text

#endif  // POLKU_LIB_TEXT_TEST_DATA_H_
