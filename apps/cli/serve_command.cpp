#include "serve_command.h"

#include <chrono>
#include <iostream>
#include <thread>

#include "flags.h"
#include "interrupt.h"
#include "server/server.h"
#include "terminal_text.h"

namespace facesearch::cli {
namespace {

constexpr const char* kServeFooter = R"(What it serves:
  A web page to search the library by dropping a photo (or clicking a face of a photo), with the
  results as face crops, a threshold slider and whole photos with their faces boxed; and a JSON API
  for scripts under /api/v1 (search by upload or face id, photos, face crops, status), described in
  docs/API.md with a curl example for each.

Security:
  It listens on 127.0.0.1 (this machine only) unless --host says otherwise. Another address needs a
  token: --token (or $FACESEARCH_TOKEN), or one is generated and printed; with a token, open the
  printed address once in the browser (it sets a cookie), or send "Authorization: Bearer TOKEN" from
  scripts. Only photos the library holds are served, named by id; uploads are searched from a private
  temporary folder and deleted.

Examples:
  facesearch serve                                  # then open http://127.0.0.1:8765/
  facesearch serve --port 9000 --db ~/photos.db
  facesearch serve --host 0.0.0.0                   # the home network: prints the address with its token

Stop it with Ctrl-C (or SIGTERM): requests in flight finish, then it exits with status 130 (143).
)";

}  // namespace

CLI::App* add_serve_command(CLI::App& app, ServeArgs& args) {
  CLI::App* serve = app.add_subcommand("serve", "Serve the library as a local web page and JSON API");
  serve->footer(kServeFooter);
  serve->allow_extras();
  add_db_option(*serve, args.db);
  serve->add_option("--host", args.host, "Address to listen on (default 127.0.0.1: this machine only)")->type_name("ADDR");
  serve->add_option("--port", args.port, "Port (default 8765)")->type_name("PORT")->check(CLI::Range(1, 65535));
  // From the environment too: a command line is visible to every user (ps), a service's environment is not.
  serve->add_option("--token", args.token,
                    "Token every request must carry (needed, and generated when not given, for another --host)")
      ->type_name("TOKEN")
      ->envname("FACESEARCH_TOKEN");
  serve->add_option("--jobs", args.jobs, "Searches and images prepared at once (default 4)")
      ->type_name("N")
      ->check(CLI::Range(1, 64));
  serve->add_option("--cache-mb", args.cache_mb,
                    "Disk space for face crops and smaller photos kept between requests and runs (default 512; "
                    "0: none); the least recently used go first")
      ->type_name("MB")
      ->check(CLI::Range(0, 1 << 20));
  serve->add_option("--cache-dir", args.cache_dir,
                    "Where they are kept (default ${XDG_CACHE_HOME:-~/.cache}/facesearch/images)")
      ->type_name("DIR");
  return serve;
}

void check_serve_args(const CLI::App& serve, const ServeArgs&) { throw_if_unknown_options(serve); }

int run_serve(const ServeArgs& args) {
  server::ServeOptions options;
  options.db = library_path(args.db);
  options.host = args.host;
  options.port = args.port;
  options.token = args.token;
  options.workers = args.jobs;
  options.cache_dir = args.cache_dir;
  options.cache_max_bytes = args.cache_mb << 20;
  const bool generated = options.token.empty() && !server::is_loopback_host(options.host);
  if (generated) options.token = server::generate_token();

  const InterruptGuard interrupt;
  server::Server server(options);
  server.bind();
  std::thread serving([&server] { server.run(); });
  std::cerr << "facesearch: serving library " << printable(options.db.string()) << " ("
            << server.library().pack()->name << ")\n";
  if (generated) std::cerr << "facesearch: this address is reachable from other machines: every request needs the token\n";
  std::cout << "Open " << server.url() << "\n" << std::flush;
  std::cerr << "facesearch: Ctrl-C stops it\n";
  while (!interrupt.interrupted()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.stop();
  serving.join();
  std::cerr << "facesearch: stopped\n";
  return interrupt.exit_status();
}

}  // namespace facesearch::cli
