// Every environment variable the code, scripts and Docker files read is documented in
// .env.example, and every variable documented there is read somewhere: the file users copy
// stays the truth. What counts as "read" is defined once, in tests/deploy/env_names.hpp (the
// deploy tests use the same definition).
#include <gtest/gtest.h>

#include "../deploy/env_names.hpp"

namespace {

namespace fs = std::filesystem;
const fs::path kRoot = LIVEDUB_SOURCE_DIR;

using livedub::testing::names_documented;
using livedub::testing::names_read_by_code_and_scripts;

TEST(EnvDocumentation, EveryVariableReadIsInEnvExample) {
  const auto documented = names_documented(kRoot);
  ASSERT_GT(documented.size(), 40u) << "cannot read .env.example";
  const auto read = names_read_by_code_and_scripts(kRoot);
  ASSERT_GT(read.size(), 40u) << "cannot find the names the code reads";
  for (const auto& name : read) {
    EXPECT_TRUE(documented.count(name)) << name << " is read but not documented in .env.example";
  }
}

TEST(EnvDocumentation, EveryVariableInEnvExampleIsRead) {
  const auto read = names_read_by_code_and_scripts(kRoot);
  for (const auto& name : names_documented(kRoot)) {
    EXPECT_TRUE(read.count(name)) << name << " is documented in .env.example but nothing reads it";
  }
}

}  // namespace
