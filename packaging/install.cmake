# Installing facesearch for every user of the machine (`make install`, `make deb`; README "Installing").
# Included by the top-level CMakeLists.txt after the facesearch target and ONNX Runtime are defined.
#
#   PREFIX/bin/facesearch                        RUNPATH $ORIGIN/../lib/facesearch
#   PREFIX/lib/facesearch/libonnxruntime.so.*    the ONNX Runtime tools/setup.sh unpacked (not a system one)
#   PREFIX/share/facesearch/models/NAME/         the packs tools/setup.sh built, as plain files
#                                                (found by system_packs_root(), src/models/pack_registry.h)
#   PREFIX/lib/systemd/user/facesearch-serve.service   (share/systemd/user for a prefix other than
#                                                /usr and /usr/local: ~/.local/share is where systemd looks)
# The web page needs nothing installed: it is compiled into the binary (apps/server/embed_assets.cmake).
if(NOT TARGET facesearch)
  message(FATAL_ERROR "include packaging/install.cmake after add_executable(facesearch ...)")
endif()

set(FACESEARCH_INSTALL_PACKS "mobilefacenet-faceapi;dlib-faceapi" CACHE STRING
    "Model packs installed with the binary (the default first; dlib-faceapi for libraries built with it)")
if(DEFINED ENV{FACESEARCH_MODELS_HOME})
  set(default_packs_dir "$ENV{FACESEARCH_MODELS_HOME}")
elseif(DEFINED ENV{XDG_DATA_HOME} AND NOT "$ENV{XDG_DATA_HOME}" STREQUAL "")
  set(default_packs_dir "$ENV{XDG_DATA_HOME}/facesearch/models")
else()
  set(default_packs_dir "$ENV{HOME}/.local/share/facesearch/models")
endif()
set(FACESEARCH_PACKS_DIR "${default_packs_dir}" CACHE PATH
    "Folder of the model packs to install: where tools/setup.sh builds them (setup.sh print-models)")

# ONNX Runtime goes with the binary unless it is the system's own (Debian 13's libonnxruntime, say).
cmake_path(IS_PREFIX FACESEARCH_ORT_ROOT "${ORT_LIBRARY}" NORMALIZE ort_is_private)
if(FACESEARCH_ORT_ROOT AND ort_is_private)
  set_target_properties(facesearch PROPERTIES INSTALL_RPATH "$ORIGIN/../lib/facesearch")
  file(GLOB ort_runtime_files "${ORT_LIBRARY_DIR}/libonnxruntime.so.*")  # the soname link and the file
  install(FILES ${ort_runtime_files} DESTINATION lib/facesearch)
else()
  set_target_properties(facesearch PROPERTIES INSTALL_RPATH "${ORT_LIBRARY_DIR}")
endif()

install(TARGETS facesearch RUNTIME DESTINATION bin)
# Installing and packaging take what `make build` built: CPack's staging install does not build every
# target (the tests and benchmarks) first.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
# Packs and the unit are installed by scripts run at install time: the packs are read where setup built
# them then (resolving links), and the unit names the binary under the prefix given to `cmake --install`.
install(CODE "set(FACESEARCH_PACKS_DIR \"${FACESEARCH_PACKS_DIR}\")
set(FACESEARCH_INSTALL_PACKS \"${FACESEARCH_INSTALL_PACKS}\")
set(FACESEARCH_UNIT_TEMPLATE \"${PROJECT_SOURCE_DIR}/packaging/facesearch-serve.service.in\")
include(\"${PROJECT_SOURCE_DIR}/packaging/install_data.cmake\")")

# `make deb`: build/facesearch_VERSION_ARCH.deb, installing under /usr.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME facesearch)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(FACESEARCH_DEB_MAINTAINER "facesearch maintainers <facesearch@localhost>" CACHE STRING
    "The .deb's Maintainer field: NAME <EMAIL>")
set(CPACK_PACKAGE_CONTACT "${FACESEARCH_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "find every photo of a person in your photo folders, on your own machine")
set(CPACK_PACKAGE_DESCRIPTION "facesearch detects the faces in your photos, indexes them in a local library \
and finds a person's photos from one photo of them, from the command line or a local web page (facesearch \
serve). Nothing leaves the machine: the face models, installed with it, run through ONNX Runtime.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # facesearch_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION graphics)
# Depends from the libraries the binary links (dpkg-shlibdeps); ONNX Runtime is the package's own.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS "${ORT_LIBRARY_DIR}")
include(CPack)
