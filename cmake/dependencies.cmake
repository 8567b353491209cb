# Every dependency comes from a Debian 12 package (scripts/packages.txt).
find_package(Threads REQUIRED)

# Debian's libcaf-dev (0.17.6) ships no CMake package config: import by hand.
find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
add_library(CAF::core UNKNOWN IMPORTED)
set_target_properties(CAF::core PROPERTIES
  IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
  INTERFACE_COMPILE_DEFINITIONS "CAF_ENABLE_TYPE_ID_CHECKS"
  INTERFACE_LINK_LIBRARIES Threads::Threads)

find_package(nlohmann_json 3 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(spdlog REQUIRED)
find_package(LibArchive REQUIRED)
find_package(Catch2 2 REQUIRED)
