// data_prep: FER2013 (CSV or image folders) -> HDF5 shards + manifest.json; `data_prep synth` draws a
// synthetic FER-format dataset. The logic lives in fg_data (src/data/prep*.cpp); this is only the entry
// point.
#include "fergan/data/prep.h"
#include "fergan/logging.h"

int main(int argc, char** argv) {
  fergan::logging::init();
  return fergan::logging::run_main([&] { return fergan::data::data_prep_main(argc, argv); });
}
