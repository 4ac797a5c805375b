#include "flags.h"

#include <cmath>
#include <optional>
#include <system_error>

#include "core/error.h"
#include "store/catalog.h"

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

CLI::Option* add_db_option(CLI::App& command, std::string& db) {
  return command
      .add_option("--db", db,
                  "Library file (default: $FACESEARCH_DB, else ${XDG_DATA_HOME:-~/.local/share}/facesearch/library.db)")
      ->type_name("PATH")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string { return value.empty() ? "needs a file path" : ""; }, ""));
}

CLI::Option* add_models_option(CLI::App& command, std::string& models_dir) {
  return command
      .add_option("--models", models_dir,
                  "Models folder (default: $FACESEARCH_MODELS, else the one `make setup` builds)")
      ->type_name("DIR");
}

CLI::Option* add_detector_option(CLI::App& command, std::string& detector) {
  return command
      .add_option("--detector", detector,
                  "Face detection: mediapipe (fast BlazeFace over the photo and tiles of large photos), ssd "
                  "(the slower SSD), cascade (mediapipe, then SSD where it finds nothing); auto (default): "
                  "mediapipe when the model pack has it, else ssd")
      ->type_name("auto|mediapipe|ssd|cascade")
      ->check(CLI::IsMember({"auto", "mediapipe", "ssd", "cascade"}).description(""));
}

CLI::Option* add_smallest_face_option(CLI::App& command, float& smallest_face_px) {
  return command
      .add_option("--smallest-face", smallest_face_px,
                  "Look for faces down to PX pixels (shorter side) in large photos, with tiled passes of the "
                  "fast detector; smaller finds more faces in crowds and costs more time (default 0: the larger of "
                  "24 px and 1% of the photo's longer side)")
      ->type_name("PX")
      ->check(non_negative_number());
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
  if (const std::vector<std::string> unknown = command.remaining(); !unknown.empty()) {
    throw CLI::ExtrasError(unknown);
  }
}

std::filesystem::path library_path(const std::string& db_flag) {
  return db_flag.empty() ? default_catalog_path() : std::filesystem::path(db_flag);
}

std::filesystem::path existing_library_path(const std::string& db_flag, const std::string& alternative) {
  const std::filesystem::path db = library_path(db_flag);
  std::error_code ec;
  if (!std::filesystem::exists(db, ec)) {
    throw Error(ErrorCode::kNotFound, "no library at " + std::filesystem::absolute(db, ec).string() +
                                          "; build one first with `facesearch index FOLDER`" +
                                          (alternative.empty() ? "" : ", " + alternative));
  }
  return db;
}

ModelPack load_models(const std::string& models_flag) {
  const std::optional<std::filesystem::path> explicit_dir =
      models_flag.empty() ? std::nullopt : std::optional<std::filesystem::path>(models_flag);
  return load_model_pack(resolve_models_dir(explicit_dir));
}

}  // namespace facesearch::cli
