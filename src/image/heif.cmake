# Optional HEIF (HEIC, AVIF) decoding through the system's libheif (Debian: libheif-dev). Included by
# the top-level CMakeLists.txt after facesearch_core is defined. Without libheif the build still works
# and HEIF photos get a clear "not supported by this build" error.
option(FACESEARCH_WITH_LIBHEIF "Decode HEIC/AVIF photos with libheif when it is installed" ON)

if(FACESEARCH_WITH_LIBHEIF)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(LIBHEIF QUIET IMPORTED_TARGET libheif)
  endif()
endif()

if(LIBHEIF_FOUND)
  message(STATUS "libheif ${LIBHEIF_VERSION}: HEIC/AVIF decoding enabled")
  target_link_libraries(facesearch_core PRIVATE PkgConfig::LIBHEIF)
  target_compile_definitions(facesearch_core PRIVATE FACESEARCH_HAVE_LIBHEIF=1)

  # The image tests encode HEIC/AVIF with libheif at test time, and must know whether the core decodes
  # them. Their target is defined later (tests/), so this runs once the top-level file is done.
  function(facesearch_heif_tests)
    if(TARGET facesearch_tests)
      target_link_libraries(facesearch_tests PRIVATE PkgConfig::LIBHEIF)
      target_compile_definitions(facesearch_tests PRIVATE FACESEARCH_HAVE_LIBHEIF=1)
    endif()
  endfunction()
  cmake_language(DEFER CALL facesearch_heif_tests)
else()
  message(STATUS "libheif not found (or FACESEARCH_WITH_LIBHEIF=OFF): HEIC/AVIF photos will not decode")
endif()
