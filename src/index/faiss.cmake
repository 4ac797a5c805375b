# FAISS for the approximate index (src/index/hnsw_index.cpp). Include from the top-level CMakeLists.txt
# after facesearch_core is defined:   include(src/index/faiss.cmake)
#
# Debian/Ubuntu's libfaiss-dev ships a static libfaiss.a (built with OpenMP, against the system
# BLAS/LAPACK) and a CMake package whose `faiss` target links OpenMP::OpenMP_CXX without finding
# OpenMP itself, so OpenMP is found first. Where no CMake package exists, the library and header are
# found directly and given the same dependencies.
if(NOT TARGET facesearch_core)
  message(FATAL_ERROR "include src/index/faiss.cmake after add_library(facesearch_core ...)")
endif()
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(faiss CONFIG QUIET)
if(NOT TARGET faiss)
  find_path(FAISS_INCLUDE_DIR faiss/Index.h)
  find_library(FAISS_LIBRARY faiss)
  if(NOT FAISS_INCLUDE_DIR OR NOT FAISS_LIBRARY)
    message(FATAL_ERROR "FAISS not found: run tools/setup.sh (Debian/Ubuntu: apt-get install libfaiss-dev), "
                        "or pass -DCMAKE_PREFIX_PATH=<faiss install prefix>")
  endif()
  find_package(BLAS REQUIRED)
  find_package(LAPACK REQUIRED)
  add_library(faiss UNKNOWN IMPORTED)
  set_target_properties(faiss PROPERTIES
    IMPORTED_LOCATION ${FAISS_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${FAISS_INCLUDE_DIR}
    INTERFACE_LINK_LIBRARIES "OpenMP::OpenMP_CXX;${LAPACK_LIBRARIES};${BLAS_LIBRARIES}")
endif()
if(faiss_FOUND)
  message(STATUS "FAISS: CMake package ${faiss_DIR} (version ${faiss_VERSION})")
else()
  message(STATUS "FAISS: ${FAISS_LIBRARY} (headers ${FAISS_INCLUDE_DIR})")
endif()
target_link_libraries(facesearch_core PRIVATE faiss)
