// One step of a database schema, shared by every storage engine Polku uses.
//
//   const std::vector<Migration> kSchema = {
//       {1, "CREATE TABLE journeys (…)"},
//       {2, "ALTER TABLE journeys ADD COLUMN archived INTEGER NOT NULL DEFAULT 0"},
//   };
#ifndef POLKU_LIB_BASE_MIGRATION_H_
#define POLKU_LIB_BASE_MIGRATION_H_

namespace polku {

// Version numbers start at 1 and increase by one; a database records the
// versions it has applied and runs only newer ones.
struct Migration {
  int version;
  const char* sql;  // may hold several statements
};

}  // namespace polku

#endif  // POLKU_LIB_BASE_MIGRATION_H_
