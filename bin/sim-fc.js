#!/usr/bin/env node
import { launch } from "./launch.js";
await launch("firmware-bridge/sim-fc/main");
