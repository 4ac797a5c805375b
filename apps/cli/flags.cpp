#include "flags.h"

#include <cmath>
#include <cstdlib>
#include <iostream>

#include "core/error.h"
#include "image/image.h"
#include "terminal_text.h"

namespace facesearch::cli {

CLI::Validator non_negative_integer() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        long long number = 0;
        if (!CLI::detail::lexical_cast(value, number) || number < 0) {
          return "must be a whole number >= 0, not '" + value + "'";
        }
        return {};
      },
      "");  // the type name (N) and the description say enough in --help
}

CLI::Validator non_negative_number() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        double number = 0;
        if (!CLI::detail::lexical_cast(value, number) || !std::isfinite(number) || number < 0) {
          return "must be a number >= 0, not '" + value + "'";
        }
        return {};
      },
      "");
}

CLI::Option* add_threshold_option(CLI::App& command, std::optional<float>& threshold, const std::string& description) {
  return command.add_option("--threshold", threshold, description)
      ->type_name("T")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            double number = 0;
            if (!CLI::detail::lexical_cast(value, number) || !std::isfinite(number) || number < -1 || number > 1) {
              return "must be a cosine similarity from -1 to 1 (higher = stricter), not '" + value + "'";
            }
            return {};
          },
          ""));
}

CLI::Option* add_jobs_option(CLI::App& command, int& jobs, const std::string& description) {
  return command.add_option("--jobs", jobs, description)
      ->type_name("N")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            long long number = 0;
            if (!CLI::detail::lexical_cast(value, number) || number < 0 || number > kMaxJobs) {
              return "must be a whole number from 0 (one per core) to " + std::to_string(kMaxJobs) + ", not '" +
                     value + "'";
            }
            return {};
          },
          ""));
}

CLI::Option* add_db_option(CLI::App& command, std::string& db) {
  return command
      .add_option("--db", db,
                  "Library file, or a PostgreSQL library's address postgresql://USER@HOST/DB (default: $FACESEARCH_DB, "
                  "else ${XDG_DATA_HOME:-~/.local/share}/facesearch/library.db)")
      ->type_name("PATH|URL")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string { return value.empty() ? "needs a file path" : ""; }, ""));
}

CLI::Option* add_models_option(CLI::App& command, std::string& models_dir) {
  return command
      .add_option("--models", models_dir,
                  "Models folder (default: $FACESEARCH_MODELS, else the one `make setup` builds)")
      ->type_name("DIR");
}

CLI::Option* add_model_option(CLI::App& command, std::string& model_name, CLI::Option* models_dir_option) {
  CLI::Option* option =
      command
          .add_option("--model", model_name,
                      std::string("Model pack by name, as `facesearch models list` shows them: ") + kDefaultPackName +
                          " (default), dlib-faceapi, packs added with `facesearch models add`, InsightFace packs in "
                          "~/.insightface/models (buffalo_l, antelopev2, ...). Default: the pack the library was "
                          "built with")
          ->type_name("NAME");
  if (models_dir_option) option->excludes(models_dir_option);
  return option;
}

CLI::Option* add_detector_option(CLI::App& command, std::string& detector) {
  return command
      .add_option("--detector", detector,
                  "Face detection: hybrid (SSD and the fast BlazeFace over the whole photo, and BlazeFace over "
                  "tiles of large photos where small faces are likely or none was found), mediapipe (BlazeFace "
                  "alone, over the photo and tiles: faster, misses faces in crowds and in profile), ssd (SSD "
                  "alone), cascade (mediapipe, then SSD where it finds nothing); auto (default): hybrid when the "
                  "model pack has both detectors, else the pack's own detector (SSD; SCRFD or YuNet for "
                  "InsightFace and OpenCV zoo packs, which take no other)")
      ->type_name("auto|hybrid|mediapipe|ssd|cascade")
      ->check(CLI::IsMember({"auto", "hybrid", "mediapipe", "ssd", "cascade"}).description(""));
}

CLI::Option* add_smallest_face_option(CLI::App& command, float& smallest_face_px) {
  return command
      .add_option("--smallest-face", smallest_face_px,
                  "Look for faces down to PX pixels (shorter side) in large photos, with tiled passes of the "
                  "fast detector (hybrid: in photos where nothing else was found or people are at a distance); "
                  "smaller finds more faces in crowds and costs more time (default 0: the larger of 24 px and 1% "
                  "of the photo's longer side)")
      ->type_name("PX")
      ->check(non_negative_number());
}

CLI::Option* add_det_size_option(CLI::App& command, int& det_size) {
  return command
      .add_option("--det-size", det_size,
                  "InsightFace and OpenCV zoo packs: the detector's input size in pixels, a multiple of 32 "
                  "(default 640, insightface's det_size); larger finds smaller faces in large photos and costs "
                  "about (PX/640)^2 as much")
      ->type_name("PX")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            long long px = 0;
            if (!CLI::detail::lexical_cast(value, px) || px < 32 || px > 4096 || px % 32 != 0)
              return "must be a multiple of 32 from 32 to 4096, not '" + value + "'";
            return {};
          },
          ""));
}

CLI::Option* add_max_pixels_option(CLI::App& command, double& max_megapixels) {
  return command
      .add_option("--max-pixels", max_megapixels,
                  "Refuse photos of more than MP megapixels, read from the file's header before decoding "
                  "(default " + std::to_string(kDefaultMaxPixels / 1'000'000) + ": a small file can claim a huge size)")
      ->type_name("MP")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            double mp = 0;
            if (!CLI::detail::lexical_cast(value, mp) || !std::isfinite(mp) || mp <= 0 || mp > 1000)
              return "must be a number of megapixels above 0, at most 1000, not '" + value + "'";
            return {};
          },
          ""));
}

std::int64_t max_pixels_from_flag(double max_megapixels) {
  return max_megapixels > 0 ? static_cast<std::int64_t>(max_megapixels * 1e6) : kDefaultMaxPixels;
}

DetectionStrategy detection_strategy(const std::string& detector_flag) {
  return parse_detection_strategy(detector_flag.empty() ? "auto" : detector_flag).value_or(DetectionStrategy::kAuto);
}

CLI::Option* add_format_option(CLI::App& command, std::string& format, const std::vector<std::string>& choices,
                               const std::string& description) {
  std::string type_name;
  for (const std::string& choice : choices) type_name += (type_name.empty() ? "" : "|") + choice;
  return command.add_option("--format", format, description)
      ->type_name(type_name)
      ->check(CLI::IsMember(choices).description(""));
}

void throw_if_unknown_options(const CLI::App& command) {
  // remaining() also holds the "--" that ends the options when the command keeps extras (allow_extras,
  // so that this check comes first): it is no option, and what follows it went to the positionals.
  std::vector<std::string> unknown = command.remaining();
  std::erase(unknown, "--");
  if (!unknown.empty()) throw CLI::ExtrasError(unknown);
}

std::filesystem::path library_path(const std::string& db_flag) {
  return db_flag.empty() ? default_library_path() : std::filesystem::path(db_flag);
}

PackRequest pack_request(const std::string& models_flag, const std::string& model_flag) {
  return PackRequest{models_flag, model_flag};
}

std::string licence_note(const ModelPack& pack) {
  if (!pack.non_commercial) return {};
  return "model pack " + pack.name + ": " + pack.license;
}

void note_licence(const ModelPack& pack, bool quiet) {
  if (quiet) return;
  if (const std::string note = licence_note(pack); !note.empty())
    std::cerr << "facesearch: note: " << printable(note) << '\n';
}

}  // namespace facesearch::cli
