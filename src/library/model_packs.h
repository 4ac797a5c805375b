// Model packs, as front ends manage them (`facesearch models`, a server's settings page): the packs a
// user has by name (models/pack_registry.h), installing and removing them (pack_install.h), and checking
// one (pack_verify.h). One include for a front end; the core's own code includes the part it needs.
#pragma once

#include "library/pack_install.h"
#include "library/pack_verify.h"
#include "models/pack_registry.h"
