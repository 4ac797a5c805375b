// People clustering (issue 15, first step): the three clusterers of src/people/cluster.h side by side.
//  1. Quality on labelled photos, for both packs (mobilefacenet-faceapi, dlib-faceapi), each algorithm at
//     link similarities around the derived default (cluster_params_for): ../shared/testdata/faces/people
//     (identity = folder; the largest face of each photo is labelled, its other faces are not) indexed
//     together with faces/scenes as unlabelled distractors, then lfw_dev/people alone. BCubed and
//     pairwise precision/recall/F over labelled faces, clusters, scene faces that join a cluster
//     holding labelled faces, time.
//  2. Speed on synthetic faces shaped like the default pack's (bench/synthetic_faces.h's shape), at
//     10k and 100k faces (--sizes): time and peak memory of the graph and of each clusterer.
//  3. The library's people pass (people/people.h) on the same synthetic faces stored in a catalog, as
//     `facesearch index` and `people recluster` run it: the first grouping of every face, an index run
//     that adds 1% more faces, a full re-cluster; time, peak memory, BCubed F (--beams: more re-clusters,
//     with other walk beams).
// Libraries are indexed through the Library API into --work (default: a temporary folder, removed at
// the end; give a folder to keep them and re-run without analysing the photos again).
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "library/library.h"
#include "models/pack_registry.h"
#include "people/cluster.h"
#include "people/cluster_quality.h"
#include "people/people.h"
#include "store/catalog.h"
#include "store/vector_files.h"

namespace fs = std::filesystem;
using namespace facesearch;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Faces of a library with what is known about them.
struct EvalFaces {
  std::vector<std::int64_t> face_ids, image_ids;
  std::vector<float> embeddings;
  int dim = 0;
  std::vector<int> identity;     // -1: unlabelled
  std::vector<char> distractor;  // a face of a scenes/ photo
  std::vector<std::string> identity_names;
  std::vector<std::string> photo;  // file name, for the report
  FaceSet view() const { return {face_ids, image_ids, embeddings, dim}; }
  size_t size() const { return face_ids.size(); }
};

// Indexes `roots` into the library `db` (created when missing; an unchanged photo is not read again).
void index_into(const fs::path& db, const std::string& pack, std::span<const fs::path> roots) {
  IndexRequest request;
  request.pack.name = pack;
  std::optional<Library> library = Library::open_for_indexing(db, request, /*create=*/true);
  IndexOptions options;
  options.jobs = 2;
  const auto t0 = Clock::now();
  const IndexReport r = library->index(roots, options);
  std::fprintf(stderr, "  %s: %zu photos (%zu analysed), %zu faces stored in this run, %.1f s\n", db.filename().c_str(), r.files,
               r.added + r.updated, r.faces, seconds_since(t0));
}

bool under(const fs::path& path, const fs::path& root) {
  const std::string p = path.string(), r = root.string() + "/";
  return p.compare(0, r.size(), r) == 0;
}

// Every face of the library: the largest face of a photo under `labelled_root` gets the identity of its
// folder; faces of photos under `distractor_root` are distractors.
EvalFaces load_faces(const fs::path& db, const fs::path& labelled_root, const std::optional<fs::path>& distractor_root) {
  const Catalog catalog = Catalog::inspect(db);
  const fs::path labelled = fs::weakly_canonical(labelled_root);
  const std::optional<fs::path> distractors =
      distractor_root ? std::optional<fs::path>(fs::weakly_canonical(*distractor_root)) : std::nullopt;
  EvalFaces out;
  std::map<std::string, int> ids;
  for (const ImageRow& image : catalog.images()) {
    const auto faces = catalog.faces_of_image(image.id);
    if (faces.empty()) continue;
    size_t largest = 0;
    for (size_t f = 1; f < faces.size(); ++f)
      if (faces[f].face.box.area() > faces[largest].face.box.area()) largest = f;
    int identity = -1;
    if (under(image.path, labelled)) {
      const std::string name = image.path.parent_path().filename().string();
      identity = ids.emplace(name, static_cast<int>(ids.size())).first->second;
      if (static_cast<size_t>(identity) == out.identity_names.size()) out.identity_names.push_back(name);
    }
    const bool distractor = distractors && under(image.path, *distractors);
    for (size_t f = 0; f < faces.size(); ++f) {
      out.dim = static_cast<int>(faces[f].embedding.size());
      out.face_ids.push_back(faces[f].id);
      out.image_ids.push_back(image.id);
      out.embeddings.insert(out.embeddings.end(), faces[f].embedding.begin(), faces[f].embedding.end());
      out.identity.push_back(f == largest ? identity : -1);
      out.distractor.push_back(distractor);
      out.photo.push_back(image.path.filename().string());
    }
  }
  return out;
}

struct Variant {
  std::string label;
  ClusterParams params;
};

// The variants measured on a pack: each algorithm at link similarities t + f (1 - t) for the fractions
// around the default's, Immich's rule with 2 and 3 faces, average linkage both ways of averaging.
std::vector<Variant> variants_for(const ModelPack& pack, const std::vector<float>& fractions) {
  std::vector<Variant> out;
  const ClusterParams base = cluster_params_for(pack);
  for (const float f : fractions) {
    char at[64];
    std::snprintf(at, sizeof at, "%.3f (t%+.2f(1-t))", similarity_above_threshold(pack, f), f);
    ClusterParams p = base;
    p.link_similarity = similarity_above_threshold(pack, f);
    for (const int min_faces : {2, 3}) {
      p.algorithm = ClusterAlgorithm::kImmichRule, p.min_faces = min_faces;
      out.push_back({"immich, min faces " + std::to_string(min_faces) + ", link " + at, p});
    }
    p.algorithm = ClusterAlgorithm::kChineseWhispers;
    out.push_back({std::string("whispers, link ") + at, p});
    for (const bool all_pairs : {true, false}) {
      p.algorithm = ClusterAlgorithm::kAverageLinkage, p.average_over_all_pairs = all_pairs;
      out.push_back({std::string("average linkage (") + (all_pairs ? "all pairs" : "graph edges") + "), link " + at, p});
    }
  }
  return out;
}

// The people the index run left in the library at `db` (people/people.h's pass: the clusterer at the
// default, groups of min faces 3, the join rule), as labels over `faces`.
std::vector<int> library_people_labels(const fs::path& db, const EvalFaces& faces) {
  std::map<std::int64_t, int> person_of_face;
  for (const FacePersonRow& row : Catalog::inspect(db).face_people()) person_of_face[row.face_id] = static_cast<int>(row.person_id);
  std::vector<int> labels(faces.size(), -1);
  for (size_t i = 0; i < faces.size(); ++i)
    if (const auto it = person_of_face.find(faces.face_ids[i]); it != person_of_face.end()) labels[i] = it->second;
  return labels;
}

void evaluate(const std::string& set, const ModelPack& pack, const EvalFaces& faces, const std::vector<float>& fractions,
              const std::vector<int>& library_labels) {
  const ClusterParams defaults = cluster_params_for(pack);
  size_t labelled = 0, distractors = 0;
  for (size_t i = 0; i < faces.size(); ++i) labelled += faces.identity[i] >= 0, distractors += faces.distractor[i] != 0;
  auto t0 = Clock::now();
  const NeighbourGraph graph = build_neighbour_graph(faces.view(), defaults.graph);
  const double graph_ms = seconds_since(t0) * 1000;
  std::printf("\n### %s, %s (threshold t = %.2f): %zu faces (%zu labelled, %zu identities, %zu distractors); graph k %zu, floor %.3f, "
              "%s, %zu edges, %.1f ms\n\n",
              set.c_str(), pack.name.c_str(), pack.threshold, faces.size(), labelled, faces.identity_names.size(), distractors,
              defaults.graph.k, defaults.graph.min_similarity, graph.index_kind.c_str(), graph.edges.size() / 2, graph_ms);
  std::printf("| algorithm, link similarity | BCubed P | BCubed R | BCubed F | pairwise P | pairwise R | pairwise F | clusters | "
              "labelled unassigned | distractors in a labelled cluster | ms |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  std::string joined_at_default;
  for (const Variant& v : variants_for(pack, fractions)) {
    const auto clusterer = make_clusterer(v.params);
    t0 = Clock::now();
    const Clustering c = clusterer->cluster(faces.view(), graph);
    const double ms = seconds_since(t0) * 1000;
    const ClusterQuality q = score_clustering(c.labels, faces.identity);
    // Distractor faces in a cluster that holds a labelled face.
    std::vector<char> has_labelled(static_cast<size_t>(c.clusters), 0);
    for (size_t i = 0; i < faces.size(); ++i)
      if (c.labels[i] >= 0 && faces.identity[i] >= 0) has_labelled[static_cast<size_t>(c.labels[i])] = 1;
    size_t joined = 0;
    for (size_t i = 0; i < faces.size(); ++i) joined += faces.distractor[i] && c.labels[i] >= 0 && has_labelled[static_cast<size_t>(c.labels[i])];
    const bool is_default = v.params.algorithm == defaults.algorithm && v.params.link_similarity == defaults.link_similarity &&
                            (v.params.algorithm != ClusterAlgorithm::kAverageLinkage ||
                             v.params.average_over_all_pairs == defaults.average_over_all_pairs) &&
                            (v.params.algorithm != ClusterAlgorithm::kImmichRule || v.params.min_faces == defaults.min_faces);
    if (is_default) {
      // Which distractor photos joined whom (the cluster's most frequent identity).
      for (size_t i = 0; i < faces.size(); ++i) {
        if (!faces.distractor[i] || c.labels[i] < 0 || !has_labelled[static_cast<size_t>(c.labels[i])]) continue;
        std::map<int, int> votes;
        for (size_t j = 0; j < faces.size(); ++j)
          if (c.labels[j] == c.labels[i] && faces.identity[j] >= 0) ++votes[faces.identity[j]];
        const auto best = std::max_element(votes.begin(), votes.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
        joined_at_default += (joined_at_default.empty() ? "" : ", ") + faces.photo[i] + " -> " + faces.identity_names[static_cast<size_t>(best->first)];
      }
    }
    std::printf("| %s%s | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %d | %zu | %zu | %.1f |\n", v.label.c_str(),
                is_default ? " **(default)**" : "", q.bcubed_precision, q.bcubed_recall, q.bcubed_f, q.pairwise_precision,
                q.pairwise_recall, q.pairwise_f, c.clusters, q.labelled_unassigned, joined, ms);
  }
  {
    // The library's own people, as the index run grouped them.
    const ClusterQuality q = score_clustering(library_labels, faces.identity);
    std::map<int, char> people, with_labelled;
    for (size_t i = 0; i < faces.size(); ++i)
      if (library_labels[i] >= 0) people[library_labels[i]] = 1, with_labelled[library_labels[i]] |= faces.identity[i] >= 0;
    size_t joined = 0;
    for (size_t i = 0; i < faces.size(); ++i) joined += faces.distractor[i] && library_labels[i] >= 0 && with_labelled[library_labels[i]];
    std::printf("| **the library's people after `index`** (whispers at the default, new people of 3+ faces) | %.4f | %.4f | %.4f | "
                "%.4f | %.4f | %.4f | %zu | %zu | %zu | |\n",
                q.bcubed_precision, q.bcubed_recall, q.bcubed_f, q.pairwise_precision, q.pairwise_recall, q.pairwise_f,
                people.size(), q.labelled_unassigned, joined);
  }
  if (!joined_at_default.empty()) std::printf("\nDistractor faces in a labelled cluster at the default: %s\n", joined_at_default.c_str());
  std::fflush(stdout);
}

// Peak resident memory: VmHWM from /proc (reset per stage through clear_refs, Linux >= 4.0), and the
// current resident size; both in MiB.
double proc_status_mib(const char* key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(key, 0) == 0) return std::strtod(line.c_str() + std::strlen(key), nullptr) / 1024.0;
  return 0;
}

struct StageMemory {
  double start_mib = 0;
  bool reset = false;
};
StageMemory begin_stage() {
  malloc_trim(0);
  StageMemory m;
  m.start_mib = proc_status_mib("VmRSS:");
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  m.reset = static_cast<bool>(clear);
  return m;
}
// The stage's peak above what was resident when it began (MiB); getrusage's peak when the high-water
// mark could not be reset (then an upper bound that includes earlier stages).
double stage_peak_mib(const StageMemory& m) {
  if (m.reset) return proc_status_mib("VmHWM:") - m.start_mib;
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0 - m.start_mib;
}

// Synthetic faces as bench/synthetic_faces.h makes them for a catalog (person direction + 0.73 x a
// random one, 5-20 faces per person, seed 5), in memory; one photo per face. identity = person.
EvalFaces synthetic_faces(int dim, size_t n, int min_per_person = 5, int max_per_person = 20) {
  std::mt19937 rng(5);
  std::normal_distribution<float> noise(0.f, 1.f);
  std::uniform_int_distribution<int> faces_per_person(min_per_person, max_per_person);
  auto random_unit = [&](std::span<float> v) {
    for (auto& x : v) x = noise(rng);
    l2_normalize(v);
  };
  EvalFaces out;
  out.dim = dim;
  out.embeddings.resize(n * static_cast<size_t>(dim));
  std::vector<float> person(dim), face(dim);
  int left = 0, identity = -1;
  for (size_t i = 0; i < n; ++i) {
    if (left-- <= 0) random_unit(person), left = faces_per_person(rng) - 1, ++identity;
    random_unit(face);
    std::span<float> row(out.embeddings.data() + i * dim, static_cast<size_t>(dim));
    for (int k = 0; k < dim; ++k) row[k] = person[k] + 0.73f * face[k];
    l2_normalize(row);
    out.face_ids.push_back(static_cast<std::int64_t>(i) + 1);
    out.image_ids.push_back(static_cast<std::int64_t>(i) + 1);
    out.identity.push_back(identity);
    out.distractor.push_back(0);
    out.photo.push_back("synthetic");
  }
  return out;
}

// Every clusterer at the pack's parameters on `faces` (with labels): time, the stage's peak memory, BCubed F.
void speed(const ModelPack& pack, const EvalFaces& faces, IndexKind kind) {
  const size_t n = faces.size();
  const int dim = faces.dim;
  ClusterParams params = cluster_params_for(pack);
  params.graph.index = kind;
  StageMemory m = begin_stage();
  auto t0 = Clock::now();
  const NeighbourGraph graph = build_neighbour_graph(faces.view(), params.graph);
  const double graph_s = seconds_since(t0);
  const double graph_mib = stage_peak_mib(m);
  std::printf("| %zu | %d | graph (%s, k %zu, floor %.3f): %zu edges; index %.2f s, searches + sorting %.2f s | %.2f | %.0f | |\n", n, dim,
              graph.index_kind.c_str(), params.graph.k, params.graph.min_similarity, graph.edges.size() / 2,
              graph.index_build_ms / 1000, graph.search_ms / 1000, graph_s, graph_mib);
  std::fflush(stdout);
  std::vector<ClusterParams> runs;
  for (const ClusterAlgorithm a : {ClusterAlgorithm::kImmichRule, ClusterAlgorithm::kChineseWhispers, ClusterAlgorithm::kAverageLinkage}) {
    ClusterParams p = params;
    p.algorithm = a;
    runs.push_back(p);
  }
  runs.back().average_over_all_pairs = !params.average_over_all_pairs;
  runs.push_back(params);
  runs.back().algorithm = ClusterAlgorithm::kAverageLinkage;
  for (const ClusterParams& p : runs) {
    const auto clusterer = make_clusterer(p);
    m = begin_stage();
    t0 = Clock::now();
    const Clustering c = clusterer->cluster(faces.view(), graph);
    const double s = seconds_since(t0);
    const double mib = stage_peak_mib(m);
    const ClusterQuality q = score_clustering(c.labels, faces.identity);
    std::string name = cluster_algorithm_name(p.algorithm);
    if (p.algorithm == ClusterAlgorithm::kAverageLinkage) name += p.average_over_all_pairs ? " (all pairs)" : " (graph edges)";
    if (p.algorithm == ClusterAlgorithm::kImmichRule) name += " (min faces " + std::to_string(p.min_faces) + ")";
    std::printf("| %zu | %d | %s, link %.3f: %d clusters | %.2f | %.0f | %.4f |\n", n, dim, name.c_str(), p.link_similarity,
                c.clusters, s, mib, q.bcubed_f);
    std::fflush(stdout);
  }
}

// Stores faces [first, last) of `faces` in `catalog` (one photo each, face id = position + 1).
void store_faces(Catalog& catalog, const EvalFaces& faces, size_t first, size_t last) {
  Catalog::Transaction t(catalog);
  const size_t d = static_cast<size_t>(faces.dim);
  for (size_t i = first; i < last; ++i) {
    ImageRow row;
    row.path = "/synthetic/" + std::to_string(i) + ".jpg";
    row.size = 1, row.mtime_ns = 1, row.hash = std::to_string(i), row.status = "ok";
    FaceRow f;
    f.embedding.assign(faces.embeddings.begin() + static_cast<std::ptrdiff_t>(i * d),
                       faces.embeddings.begin() + static_cast<std::ptrdiff_t>((i + 1) * d));
    f.face.detector = "synthetic";
    f.face.box = {100, 100, 200, 220};
    catalog.replace_faces(catalog.put_image(row), std::span<const FaceRow>(&f, 1));
  }
  t.commit();
}

// BCubed F of the catalog's people against the faces' identities (face id = position + 1).
double people_bcubed(const Catalog& catalog, const EvalFaces& faces, size_t n) {
  std::vector<int> labels(n, -1);
  for (const FacePersonRow& row : catalog.face_people())
    if (row.face_id >= 1 && static_cast<size_t>(row.face_id) <= n) labels[static_cast<size_t>(row.face_id - 1)] = static_cast<int>(row.person_id);
  return score_clustering(labels, std::span<const int>(faces.identity.data(), n)).bcubed_f;
}

// The people pass of a library of `n` synthetic faces: the index run that made the library (all faces
// new), one that adds 1% more, and a re-cluster.
// `beams`: after those stages, one re-cluster with each of these walk beams (PeopleParams::beam) for
// comparison.
void library_speed(const ModelPack& pack, size_t n, const fs::path& dir, const std::vector<size_t>& beams) {
  const size_t more = std::max<size_t>(n / 100, 1);
  const EvalFaces faces = synthetic_faces(pack.embedder.dim, n + more);
  const int dim = faces.dim;
  const fs::path db = dir / ("people-" + std::to_string(n) + ".db");
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", ".vectors", ".hnsw"}) fs::remove(db.string() + suffix, ec);
  Catalog catalog = Catalog::open(db, pack, Catalog::Mode::kOpenOrCreate);
  PeopleParams params = people_params_for(pack);
  ApproxIndexUpdate how = ApproxIndexUpdate::kNone;
  auto side_files = [&] {
    const auto t0 = Clock::now();
    update_vectors_file(catalog, dim);
    update_approx_index_file(catalog, dim, kSavedGraphThreshold, &how);
    return seconds_since(t0);
  };
  auto graph_done = [&] {
    switch (how) {
      case ApproxIndexUpdate::kBuilt: return " + HNSW graph built";
      case ApproxIndexUpdate::kExtended: return " + HNSW graph extended";
      case ApproxIndexUpdate::kCurrent: return " + HNSW graph current";
      case ApproxIndexUpdate::kNone: break;
    }
    return "";
  };
  auto pass = [&](const std::string& what, size_t stored, bool full) {
    StageMemory m = begin_stage();
    auto t0 = Clock::now();
    const auto index = build_vector_index(catalog, IndexKind::kPreferSaved, dim);
    const double load_s = seconds_since(t0);
    t0 = Clock::now();
    const PeopleUpdate u = full ? recluster_people(catalog, *index, params) : assign_new_faces(catalog, *index, params);
    const double s = seconds_since(t0);
    std::printf("| %zu | %s: %zu faces looked at, %zu joined, %zu new people, %zu waiting (%s index, loaded in %.2f s) | %.2f | %.0f | %.4f |\n",
                stored, what.c_str(), u.faces_checked, u.joined, u.new_people, u.waiting, index->kind().c_str(), load_s, s,
                stage_peak_mib(m), people_bcubed(catalog, faces, stored));
    std::fflush(stdout);
  };
  store_faces(catalog, faces, 0, n);
  const double first_files = side_files();
  std::printf("| %zu | (the index run's side files: vectors%s, %.2f s) | | | |\n", n, graph_done(), first_files);
  pass("first grouping, every face new", n, false);
  store_faces(catalog, faces, n, n + more);
  const double more_files = side_files();
  std::printf("| %zu | (side files again: vectors%s, %.2f s) | | | |\n", n + more, graph_done(), more_files);
  pass("an index run adding 1%", n + more, false);
  pass("people recluster", n + more, true);
  for (const size_t beam : beams) {
    params.beam = beam;
    pass("people recluster, beam " + (beam == 0 ? std::string("128 (the index's default)") : std::to_string(beam)), n + more, true);
  }
  catalog = Catalog::inspect(db);
  for (const char* suffix : {"", "-wal", "-shm", ".vectors", ".hnsw"}) fs::remove(db.string() + suffix, ec);
}

std::vector<size_t> parse_sizes(const std::string& s) {
  std::vector<size_t> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(std::strtoul(item.c_str(), nullptr, 10));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path testdata = "../shared/testdata";
  std::optional<fs::path> work;
  std::vector<size_t> sizes = {10000, 100000};
  std::vector<size_t> beams;
  std::vector<std::string> packs = {kDefaultPackName, "dlib-faceapi"};
  std::vector<float> fractions = {-0.1f, 0.f, 0.1f, 0.2f, 0.3f};
  int dim = 0;  // 0: the default pack's
  bool real = true, synthetic = true, clusterers = true;
  IndexKind kind = IndexKind::kAuto;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--testdata") && i + 1 < argc) testdata = argv[++i];
    else if (!std::strcmp(argv[i], "--work") && i + 1 < argc) work = argv[++i];
    else if (!std::strcmp(argv[i], "--sizes") && i + 1 < argc) sizes = parse_sizes(argv[++i]);
    else if (!std::strcmp(argv[i], "--dim") && i + 1 < argc) dim = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--beams") && i + 1 < argc) beams = parse_sizes(argv[++i]);
    else if (!std::strcmp(argv[i], "--pack") && i + 1 < argc) packs = {argv[++i]};
    else if (!std::strcmp(argv[i], "--hnsw")) kind = IndexKind::kApprox;
    else if (!std::strcmp(argv[i], "--real-only")) synthetic = false;
    else if (!std::strcmp(argv[i], "--synthetic-only")) real = false;
    else if (!std::strcmp(argv[i], "--library-only")) real = false, clusterers = false;
    else {
      std::fprintf(stderr,
                   "usage: facesearch_cluster_eval [--testdata DIR] [--work DIR] [--pack NAME] [--real-only | --synthetic-only | --library-only]\n"
                   "                               [--sizes 10000,100000] [--dim D] [--hnsw] [--beams 0,32,48]\n");
      return 2;
    }
  }
  fs::path dir;
  if (work) {
    dir = *work;
    fs::create_directories(dir);
  } else {
    std::string tmpl = (fs::temp_directory_path() / "facesearch-cluster-eval-XXXXXX").string();
    dir = mkdtemp(tmpl.data());
  }
  std::printf("## People clustering: facesearch_cluster_eval\n");
  if (real) {
    const fs::path people = testdata / "faces" / "people", scenes = testdata / "faces" / "scenes", lfw = testdata / "lfw_dev" / "people";
    for (const std::string& name : packs) {
      const ModelPack pack = load_named_pack(name);
      const fs::path faces_db = dir / (name + "-faces.db"), lfw_db = dir / (name + "-lfw.db");
      const fs::path faces_roots[] = {people, scenes}, lfw_roots[] = {lfw};
      index_into(faces_db, name, faces_roots);
      const EvalFaces faces = load_faces(faces_db, people, scenes);
      evaluate("faces/people + faces/scenes", pack, faces, fractions, library_people_labels(faces_db, faces));
      index_into(lfw_db, name, lfw_roots);
      const EvalFaces lfw_faces = load_faces(lfw_db, lfw, std::nullopt);
      evaluate("lfw_dev/people", pack, lfw_faces, fractions, library_people_labels(lfw_db, lfw_faces));
    }
  }
  if (synthetic) {
    const ModelPack pack = load_named_pack(kDefaultPackName);
    if (dim == 0) dim = pack.embedder.dim;
    if (clusterers) {
      std::printf("\n### Speed: synthetic faces (%s's shape and parameters)\n\n", pack.name.c_str());
      std::printf("| faces | dim | stage | s | peak MiB above start | BCubed F |\n|---:|---:|---|---:|---:|---:|\n");
      for (const size_t n : sizes) speed(pack, synthetic_faces(dim, n), kind);
      // Large people: 100-300 faces each, more than the graph's k nearest, so that averaging over all
      // pairs (a missing edge counts 0) and over the graph's edges part.
      std::printf("\nLarge people (100-300 faces each):\n\n");
      std::printf("| faces | dim | stage | s | peak MiB above start | BCubed F |\n|---:|---:|---|---:|---:|---:|\n");
      speed(pack, synthetic_faces(dim, 10000, 100, 300), kind);
    }
    std::printf("\n### The library's people pass (people/people.h) on the same synthetic faces in a catalog\n\n");
    std::printf("| faces | pass | s | peak MiB above start | BCubed F |\n|---:|---|---:|---:|---:|\n");
    for (const size_t n : sizes) library_speed(pack, n, dir, beams);
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    std::printf("\nprocess peak (getrusage): %.0f MiB\n", u.ru_maxrss / 1024.0);
  }
  if (!work) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return 0;
}
