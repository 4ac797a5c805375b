#include "status_command.h"

#include <filesystem>
#include <iostream>
#include <vector>

#include "flags.h"
#include "output.h"
#include "library/library.h"

namespace facesearch::cli {
namespace {

constexpr const char* kStatusFooter = R"(Examples:
  facesearch status
  facesearch status --db /media/photos/library.db --format json

The files that could not be read are retried by the next `facesearch index` when they change
(a photo replaced, a download finished); the table shows the first 20, --format json all of them.
Folders that `facesearch index` could not read (no permission, an unplugged drive) are listed too,
with the photos kept from them, until a run reads them again.

Exit status:
  0    the status was printed
  1    no library there (run `facesearch index FOLDER`), or it is damaged, not a library, or
       written by a newer facesearch (status needs no models: it shows which ones made the library);
       the status could not be written (a full disk)
  2    usage error
)";

}  // namespace

CLI::App* add_status_command(CLI::App& app, StatusArgs& args) {
  CLI::App* status = app.add_subcommand("status", "Show what the library holds and which files could not be read");
  status->footer(kStatusFooter);
  status->allow_extras();
  add_db_option(*status, args.db);
  add_format_option(*status, args.format, {"table", "json"}, "Output format (default table; json for programs)");
  return status;
}

void check_status_args(const CLI::App& status, const StatusArgs&) { throw_if_unknown_options(status); }

int run_status(const StatusArgs& args) {
  const Library library = Library::open_for_reading(library_path(args.db));  // whichever models are installed
  library.check_integrity();  // PRAGMA quick_check: damage is said here, with the remedy
  const LibraryStatus status = library.status();
  if (status.rebuild) std::cerr << "facesearch: warning: " << describe_rebuild(*status.rebuild) << '\n';
  const std::vector<ImageRow> errors = library.unreadable_photos();
  if (args.format == "json") {
    write_status_json(std::cout, status, errors);
  } else {
    write_status_table(std::cout, status, errors);
  }
  return 0;
}

}  // namespace facesearch::cli
