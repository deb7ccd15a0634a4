# fergan_check_include_graph(): the library graph must match the include graph.
#
# fergan_library(NAME DEPS ...) in CMakeLists.txt records each library in the global property
# FERGAN_LIBRARIES and its DEPS in FERGAN_DEPS_<NAME>. This check then holds the two to each other: every
# `#include "fergan/X/..."` in src/NAME/ and include/fergan/NAME/ must name NAME itself or one of its DEPS,
# and every DEP must be included somewhere. Otherwise configuring fails with one line per problem, naming the
# file and the header, or the library and the unused DEP. So the link graph cannot drift from the code.
#
# Paths are relative to CMAKE_CURRENT_SOURCE_DIR. The function needs nothing but those properties and the
# files, so it also runs in script mode (`cmake -P`, where CMAKE_CURRENT_SOURCE_DIR is the working
# directory): tests/scripts/test_include_graph.sh runs it that way on fixture trees.
function(fergan_check_include_graph)
  # In a build, a new source file re-runs the configure step and with it this check; script mode has no
  # configure step to re-run and rejects the flag.
  set(configure_depends CONFIGURE_DEPENDS)
  if(CMAKE_SCRIPT_MODE_FILE)
    set(configure_depends "")
  endif()
  get_property(libraries GLOBAL PROPERTY FERGAN_LIBRARIES)
  set(problems "")
  foreach(name ${libraries})
    get_property(deps GLOBAL PROPERTY FERGAN_DEPS_${name})
    file(GLOB_RECURSE files ${configure_depends} ${CMAKE_CURRENT_SOURCE_DIR}/src/${name}/*.cpp
         ${CMAKE_CURRENT_SOURCE_DIR}/src/${name}/*.h ${CMAKE_CURRENT_SOURCE_DIR}/include/fergan/${name}/*.h)
    set(used "")
    foreach(file ${files})
      file(STRINGS ${file} lines REGEX "^#include \"fergan/[a-z_]+/")
      foreach(line ${lines})
        string(REGEX REPLACE "^#include \"fergan/([a-z_]+)/.*" "\\1" target "${line}")
        if(NOT target STREQUAL name)
          list(APPEND used ${target})
          if(NOT target IN_LIST deps)
            file(RELATIVE_PATH rel ${CMAKE_CURRENT_SOURCE_DIR} ${file})
            string(APPEND problems "\n  ${rel} includes a fergan/${target}/ header, but fg_${name} does not link fg_${target}")
          endif()
        endif()
      endforeach()
    endforeach()
    foreach(dep ${deps})
      if(NOT dep IN_LIST used)
        string(APPEND problems "\n  fg_${name} links fg_${dep} but includes none of its headers")
      endif()
    endforeach()
  endforeach()
  if(problems)
    message(FATAL_ERROR "the library graph does not match the include graph:${problems}")
  endif()
endfunction()
