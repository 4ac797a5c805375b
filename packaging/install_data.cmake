# Run by `cmake --install` (and by CPack's staging install), from the install(CODE) in
# packaging/install.cmake that sets FACESEARCH_PACKS_DIR, FACESEARCH_INSTALL_PACKS and
# FACESEARCH_UNIT_TEMPLATE. file(INSTALL) puts $DESTDIR in front of each
# destination and records every file in install_manifest.txt.

# The model packs, each as a folder of plain files: setup builds mobilefacenet-faceapi with hard links
# to dlib-faceapi's detector and landmark files, and a pack added by hand may hold symbolic links; the
# copies are made from the files the links resolve to, so that every installed pack stands alone.
# With PREFIX ~/.local the packs are already in place (~/.local/share/facesearch/models is where setup
# builds them): they are neither copied onto themselves nor listed in install_manifest.txt, so that an
# uninstall does not delete the builder's own packs.
get_filename_component(packs_to "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/share/facesearch/models" REALPATH)
get_filename_component(packs_from "${FACESEARCH_PACKS_DIR}" REALPATH)
foreach(pack IN LISTS FACESEARCH_INSTALL_PACKS)
  set(from "${FACESEARCH_PACKS_DIR}/${pack}")
  if(NOT EXISTS "${from}/manifest.json")
    message(FATAL_ERROR "model pack ${pack} not found in ${FACESEARCH_PACKS_DIR}: run `make setup` (tools/setup.sh) "
                        "as the user who builds, or configure with -DFACESEARCH_PACKS_DIR=FOLDER")
  endif()
  if(packs_to STREQUAL packs_from)
    message(STATUS "Up-to-date: ${from} (where setup built it)")
    continue()
  endif()
  file(GLOB_RECURSE files LIST_DIRECTORIES false RELATIVE "${from}" "${from}/*")
  foreach(file IN LISTS files)
    if(file MATCHES "(^|/)\\.")  # setup's .built-by stamps, staging leftovers
      continue()
    endif()
    get_filename_component(real "${from}/${file}" REALPATH)
    get_filename_component(name "${file}" NAME)
    get_filename_component(subdir "${file}" DIRECTORY)
    cmake_path(APPEND CMAKE_INSTALL_PREFIX share facesearch models ${pack} ${subdir} OUTPUT_VARIABLE to)
    file(INSTALL DESTINATION "${to}" TYPE FILE FILES "${real}" RENAME "${name}")
  endforeach()
endforeach()

# The systemd user unit of `facesearch serve`, naming the binary under this prefix. systemd reads user
# units from /usr/lib/systemd/user and /usr/local/lib/systemd/user, and from $XDG_DATA_HOME/systemd/user
# (~/.local/share/systemd/user) and $XDG_DATA_DIRS/*/systemd/user: share/ for any other prefix.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr" OR CMAKE_INSTALL_PREFIX STREQUAL "/usr/local")
  set(unit_dir "${CMAKE_INSTALL_PREFIX}/lib/systemd/user")
else()
  set(unit_dir "${CMAKE_INSTALL_PREFIX}/share/systemd/user")
endif()
set(FACESEARCH_BIN "${CMAKE_INSTALL_PREFIX}/bin/facesearch")
# Configured in a temporary folder, not the build folder, which `sudo make install` would leave owned by root.
if(DEFINED ENV{TMPDIR} AND IS_DIRECTORY "$ENV{TMPDIR}")
  set(tmp "$ENV{TMPDIR}")
else()
  set(tmp "/tmp")
endif()
string(RANDOM LENGTH 12 suffix)
set(staged "${tmp}/facesearch-serve.service.${suffix}")
configure_file("${FACESEARCH_UNIT_TEMPLATE}" "${staged}" @ONLY)
file(INSTALL DESTINATION "${unit_dir}" TYPE FILE FILES "${staged}" RENAME facesearch-serve.service)
file(REMOVE "${staged}")
