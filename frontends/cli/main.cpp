#include "frontends/cli/command_line.hpp"

int main(int argc, char** argv) {
  return pyro::cli::run(argc, argv);
}
