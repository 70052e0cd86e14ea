# NAME
#	TabLayers.cmake - one library per folder, and the include edges the
#	build allows between them
# SYNOPSIS
#	tab_layer(NAME SOURCES files... [HEADERS public.h...]
#	          [PRIVATE_HEADERS own.h...] [USES layers...] [LINK targets...]
#	          [SYSTEM <header prefixes>...] [EXECUTABLE])
#	tab_layers_check()	(once, after the last tab_layer())
# DESCRIPTION
#	tab_layer() makes a static library (or, with EXECUTABLE, a program)
#	of SOURCES that links USES (other layers) and LINK (outside
#	libraries). HEADERS are what a layer that USES this one may include;
#	PRIVATE_HEADERS only this layer's own files.
#
#	tab_layers_check() writes layers.manifest into the build tree: for
#	every source and header of every layer, the project headers it may
#	include (its own, and the HEADERS of every layer it USES, directly or
#	not) and the guarded outside headers it may include (SYSTEM, e.g.
#	"sqlite3.h" or "gmime/"). The target check_layers runs
#	cmake/check_layers.cmake over the manifest at every build, before any
#	layer compiles: an #include across an edge the table does not state,
#	a guarded outside header outside its layer, or a source file under a
#	layer folder that no layer owns fails the build with the file and
#	the line.
# SEE ALSO
#	docs/ARCHITECTURE.md, section "Layers".

set(TAB_GUARDED_SYSTEM_HEADERS "sqlite3.h;libpq-fe.h;gmime/;curl/;openssl/;microhttpd.h;ldap.h;unicase.h;unictype.h;uninorm.h;unistr.h;poppler;zip.h;libxml/"
  CACHE INTERNAL "outside headers only the layers that declare them may include")
set_property(GLOBAL PROPERTY TAB_LAYERS "")

function(tab_layer name)
  cmake_parse_arguments(L "EXECUTABLE" ""
    "SOURCES;HEADERS;PRIVATE_HEADERS;USES;LINK;SYSTEM" ${ARGN})
  if(L_EXECUTABLE)
    add_executable(${name} ${L_SOURCES})
  else()
    add_library(${name} STATIC ${L_SOURCES})
    target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR})
  endif()
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${L_USES} PRIVATE ${L_LINK})
  add_dependencies(${name} check_layers)
  set_property(GLOBAL APPEND PROPERTY TAB_LAYERS ${name})
  foreach(v SOURCES HEADERS PRIVATE_HEADERS USES SYSTEM)
    set_property(GLOBAL PROPERTY TAB_LAYER_${name}_${v} "${L_${v}}")
  endforeach()
endfunction()

# All layers name reaches through USES, itself included.
function(tab_layer_closure name out)
  set(seen "")
  set(todo ${name})
  while(todo)
    list(POP_FRONT todo l)
    if(l IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${l})
    get_property(uses GLOBAL PROPERTY TAB_LAYER_${l}_USES)
    list(APPEND todo ${uses})
  endwhile()
  set(${out} ${seen} PARENT_SCOPE)
endfunction()

function(tab_layers_check)
  get_property(layers GLOBAL PROPERTY TAB_LAYERS)
  set(manifest "")
  set(owned "")
  foreach(l ${layers})
    tab_layer_closure(${l} reach)
    get_property(allowed GLOBAL PROPERTY TAB_LAYER_${l}_PRIVATE_HEADERS)
    foreach(r ${reach})
      get_property(h GLOBAL PROPERTY TAB_LAYER_${r}_HEADERS)
      list(APPEND allowed ${h})
    endforeach()
    get_property(system GLOBAL PROPERTY TAB_LAYER_${l}_SYSTEM)
    get_property(files GLOBAL PROPERTY TAB_LAYER_${l}_SOURCES)
    get_property(h GLOBAL PROPERTY TAB_LAYER_${l}_HEADERS)
    get_property(p GLOBAL PROPERTY TAB_LAYER_${l}_PRIVATE_HEADERS)
    list(APPEND files ${h} ${p})
    string(REPLACE ";" "," allowed_s "${allowed}")
    string(REPLACE ";" "," system_s "${system}")
    foreach(f ${files})
      list(APPEND owned ${f})
      string(APPEND manifest "${l}|${f}|${allowed_s}|${system_s}\n")
    endforeach()
  endforeach()
  # Every C file under a layer folder must belong to a layer.
  set(folders "")
  foreach(f ${owned})
    get_filename_component(d ${f} DIRECTORY)
    list(APPEND folders ${d})
  endforeach()
  list(REMOVE_DUPLICATES folders)
  foreach(d ${folders})
    file(GLOB here RELATIVE ${CMAKE_SOURCE_DIR} CONFIGURE_DEPENDS
      ${CMAKE_SOURCE_DIR}/${d}/*.c ${CMAKE_SOURCE_DIR}/${d}/*.h)
    foreach(f ${here})
      if(NOT f IN_LIST owned)
        string(APPEND manifest "(none)|${f}||\n")
      endif()
    endforeach()
  endforeach()
  string(REPLACE ";" "," guarded_s "${TAB_GUARDED_SYSTEM_HEADERS}")
  file(WRITE ${CMAKE_BINARY_DIR}/layers.manifest "guarded|${guarded_s}\n${manifest}")
endfunction()

add_custom_target(check_layers
  COMMAND ${CMAKE_COMMAND} -DSRC=${CMAKE_SOURCE_DIR} -DMANIFEST=${CMAKE_BINARY_DIR}/layers.manifest
          -P ${CMAKE_SOURCE_DIR}/cmake/check_layers.cmake
  COMMENT "Checking the include edges between layers (docs/ARCHITECTURE.md)"
  VERBATIM)
