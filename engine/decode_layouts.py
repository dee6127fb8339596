"""Bit layouts of the rarer AIS message types (6, 7, 8, 10, 12, 13, 15, 16, 17, 20, 22, 23, 25, 26) and of the
application messages inside 6 and 8 (by DAC/FI), as data for :mod:`engine.decode_rare`.

Transcribed from pyais 3.3.1's message classes (MIT; they follow ITU-R M.1371-5, IMO SN.1/Circ.289 and gpsd's
AIVDM notes), so that the ``fields`` JSON keeps pyais's keys and values; ``tests/engine/test_decode_rare.py``
checks every layout against pyais's own decoder plans, so a pyais that moves a field fails there, not silently.

Each variant is ``(name, message type, fields)``; a field is ``name@first_bit:width:kind[:converter]`` in pyais's
order (spare bits left out: pyais leaves them out of its dicts too). Kinds: ``u``/``i`` unsigned/signed integer,
``U``/``I`` the same read as a float, ``b`` bool, ``s`` six-bit text, ``x`` bytes. Converters: ``10th``/``100th``
divide, ``deg*`` the integer-rounded degrees of 1/600000 (``deg``), 1/600 and 1/60000 degree units, ``p800``/``p799``
add the pressure offset, ``airtemp``/``dewpt``/``wl``/``wl31`` the IMO 236 scales with their offsets, ``enum<Name>``
pyais's enum (ENUMS: the value pyais gives for each raw code; it maps codes its enums do not name to a default).
"""

from __future__ import annotations

VARIANTS: tuple[tuple[str, int, str], ...] = (
    ('6Default', 6,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u seqno@38:2:u dest_mmsi@40:30:u retransmit@70:1:b dac@72:10:u '
        'fid@82:6:u data@88:920:x'),
    ('6Dac1Fid16A', 6,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u dac@40:10:u fid@50:6:u persons@56:13:u'),
    ('6Dac1Fid16B', 6,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u seqno@38:2:u dest_mmsi@40:30:u retransmit@70:1:b dac@72:10:u '
        'fid@82:6:u persons@88:13:u'),
    ('6Dac1Fid18', 6,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u seqno@38:2:u dest_mmsi@40:30:u retransmit@70:1:b dac@72:10:u '
        'fid@82:6:u linkage@88:10:u month@98:4:u day@102:5:u hour@107:5:u minute@112:6:u port_name@118:120:s '
        'destination@238:30:s lon@268:25:I:deg60000 lat@293:24:I:deg60000'),
    ('6Dac1Fid20', 6,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u seqno@38:2:u dest_mmsi@40:30:u retransmit@70:1:b dac@72:10:u '
        'fid@82:6:u linkage@88:10:u berth_length@98:9:u berth_depth@107:8:U:10th position@115:3:u '
        'month@118:4:u day@122:5:u hour@127:5:u minute@132:6:u availability@138:1:b agent@139:2:u '
        'fuel@141:2:u chandler@143:2:u stevedore@145:2:u electrical@147:2:u water@149:2:u customs@151:2:u '
        'cartage@153:2:u crane@155:2:u lift@157:2:u medical@159:2:u navrepair@161:2:u provisions@163:2:u '
        'shiprepair@165:2:u surveyor@167:2:u steam@169:2:u tugs@171:2:u solidwaste@173:2:u '
        'liquidwaste@175:2:u hazardouswaste@177:2:u ballast@179:2:u additional@181:2:u regional1@183:2:u '
        'regional2@185:2:u future1@187:2:u future2@189:2:u berth_name@191:120:s berth_lon@311:25:I:deg60000 '
        'berth_lat@336:24:I:deg60000'),
    ('6Dac1Fid23', 6,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u seqno@38:2:u dest_mmsi@40:30:u retransmit@70:1:b dac@72:10:u '
        'fid@82:6:u linkage@88:10:u notice@98:7:u month@105:4:u day@109:5:u hour@114:5:u minute@119:6:u '
        'duration@125:18:u area_data@143:870:x'),
    ('6Dac1Fid25', 6,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u seqno@38:2:u dest_mmsi@40:30:u retransmit@70:1:b dac@72:10:u '
        'fid@82:6:u unit@88:2:u amount@90:10:u cargo_data@100:476:x'),
    ('7', 7,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u mmsi1@40:30:u mmsiseq1@70:2:u mmsi2@72:30:u mmsiseq2@102:2:u '
        'mmsi3@104:30:u mmsiseq3@134:2:u mmsi4@136:30:u mmsiseq4@166:2:u'),
    ('8Default', 8,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u dac@40:10:u fid@50:6:u data@56:952:x'),
    ('8Dac1Fid0', 8,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u dac@40:10:u fid@50:6:u ack_required@56:1:b '
        'text_sequence@57:11:u text@68:906:s'),
    ('8Dac1Fid11', 8,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u dac@40:10:u fid@50:6:u lat@56:24:I:deg60000 '
        'lon@80:25:I:deg60000 day@105:5:u hour@110:5:u minute@115:6:u wspeed@121:7:u wgust@128:7:u '
        'wdir@135:9:u wgustdir@144:9:u airtemp@153:11:U:airtemp humidity@164:7:u dewpoint@171:10:U:dewpt '
        'pressure@181:9:u:p800 pressuretend@190:2:u visibility@192:8:U:10th waterlevel@200:9:U:wl '
        'leveltrend@209:2:u cspeed@211:8:U:10th cdir@219:9:u cspeed2@228:8:U:10th cdir2@236:9:u '
        'cdepth2@245:5:u cspeed3@250:8:U:10th cdir3@258:9:u cdepth3@267:5:u waveheight@272:8:U:10th '
        'waveperiod@280:6:u wavedir@286:9:u swellheight@295:8:U:10th swellperiod@303:6:u swelldir@309:9:u '
        'seastate@318:4:u watertemp@322:10:U:wl preciptype@332:3:u salinity@335:9:U:10th ice@344:2:u'),
    ('8Dac1Fid16', 8,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u dac@40:10:u fid@50:6:u target_data@56:840:x'),
    ('8Dac1Fid17', 8,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u dac@40:10:u fid@50:6:u target_data@56:480:x'),
    ('8Dac1Fid19', 8,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u dac@40:10:u fid@50:6:u linkage@56:10:u station@66:120:s '
        'lon@186:25:I:deg60000 lat@211:24:I:deg60000 status@235:2:u signal@237:5:u hour@242:5:u '
        'minute@247:6:u nextsignal@253:5:u'),
    ('8Dac1Fid20', 8,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u dac@40:10:u fid@50:6:u linkage@56:10:u berth_length@66:9:u '
        'berth_depth@75:8:U:10th position@83:3:u month@86:4:u day@90:5:u hour@95:5:u minute@100:6:u '
        'availability@106:1:b agent@107:2:u fuel@109:2:u chandler@111:2:u stevedore@113:2:u '
        'electrical@115:2:u water@117:2:u customs@119:2:u cartage@121:2:u crane@123:2:u lift@125:2:u '
        'medical@127:2:u navrepair@129:2:u provisions@131:2:u shiprepair@133:2:u surveyor@135:2:u '
        'steam@137:2:u tugs@139:2:u solidwaste@141:2:u liquidwaste@143:2:u hazardouswaste@145:2:u '
        'ballast@147:2:u additional@149:2:u regional1@151:2:u regional2@153:2:u future1@155:2:u '
        'future2@157:2:u berth_name@159:120:s berth_lon@279:25:I:deg60000 berth_lat@304:24:I:deg60000'),
    ('8Dac1Fid21NonWmo', 8,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u dac@40:10:u fid@50:6:u wmo@56:1:b location@57:120:s '
        'lon@177:25:I:deg60000 lat@202:24:I:deg60000 day@226:5:u hour@231:5:u minute@236:6:u weather@242:4:u '
        'vislimit@246:1:b visibility@247:7:U:10th humidity@254:7:u wspeed@261:7:u wdir@268:9:u '
        'pressure@277:9:u:p799 pressuretend@286:4:u airtemp@290:11:I:10th watertemp@301:10:I:10th '
        'waveperiod@311:6:u waveheight@317:8:U:10th wavedir@325:9:u swellheight@334:8:U:10th swelldir@342:9:u '
        'swellperiod@351:6:u'),
    ('8Dac1Fid22', 8,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u dac@40:10:u fid@50:6:u linkage@56:10:u notice@66:7:u '
        'month@73:4:u day@77:5:u hour@82:5:u minute@87:6:u duration@93:18:u area_data@111:870:x'),
    ('8Dac1Fid24', 8,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u dac@40:10:u fid@50:6:u linkage@56:10:u '
        'airdraught@66:13:U:100th lastport@79:30:s nextport@109:30:s secondport@139:30:s '
        'ais_state@169:2:u:enumSOLASStatus ata_state@171:2:u:enumSOLASStatus '
        'bnwas_state@173:2:u:enumSOLASStatus ecdisb_state@175:2:u:enumSOLASStatus '
        'chart_state@177:2:u:enumSOLASStatus sounder_state@179:2:u:enumSOLASStatus '
        'epaid_state@181:2:u:enumSOLASStatus steer_state@183:2:u:enumSOLASStatus '
        'gnss_state@185:2:u:enumSOLASStatus gyro_state@187:2:u:enumSOLASStatus '
        'lrit_state@189:2:u:enumSOLASStatus magcomp_state@191:2:u:enumSOLASStatus '
        'navtex_state@193:2:u:enumSOLASStatus arpa_state@195:2:u:enumSOLASStatus '
        'sband_state@197:2:u:enumSOLASStatus xband_state@199:2:u:enumSOLASStatus '
        'hfradio_state@201:2:u:enumSOLASStatus inmarsat_state@203:2:u:enumSOLASStatus '
        'mfradio_state@205:2:u:enumSOLASStatus vhfradio_state@207:2:u:enumSOLASStatus '
        'grndlog_state@209:2:u:enumSOLASStatus waterlog_state@211:2:u:enumSOLASStatus '
        'thd_state@213:2:u:enumSOLASStatus tcs_state@215:2:u:enumSOLASStatus '
        'vdr_state@217:2:u:enumSOLASStatus iceclass@221:4:u:enumIceClass horsepower@225:18:u vhfchan@243:12:u '
        'lshiptype@255:42:s tonnage@297:18:u lading@315:2:u heavyoil@317:2:u lightoil@319:2:u '
        'dieseloil@321:2:u totaloil@323:14:u persons@337:13:u'),
    ('8Dac1Fid26', 8,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u dac@40:10:u fid@50:6:u reports_data@56:560:x'),
    ('8Dac1Fid27', 8,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u dac@40:10:u fid@50:6:u linkage@56:10:u sender@66:3:u '
        'rtype@69:5:u month@74:4:u day@78:5:u hour@83:5:u minute@88:6:u duration@94:18:u waycount@112:5:u '
        'waypoints_data@117:880:x'),
    ('8Dac1Fid29', 8,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u dac@40:10:u fid@50:6:u linkage@56:10:u description@66:966:s'),
    ('8Dac1Fid31', 8,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u dac@40:10:u fid@50:6:u lon@56:25:I:deg60000 '
        'lat@81:24:I:deg60000 accuracy@105:1:b day@106:5:u hour@111:5:u minute@116:6:u wspeed@122:7:u '
        'wgust@129:7:u wdir@136:9:u wgustdir@145:9:u airtemp@154:11:I:10th humidity@165:7:u '
        'dewpoint@172:10:I:10th pressure@182:9:u:p799 pressuretend@191:2:u visgreater@193:1:b '
        'visibility@194:7:U:10th waterlevel@201:12:U:wl31 leveltrend@213:2:u cspeed@215:8:U:10th cdir@223:9:u '
        'cspeed2@232:8:U:10th cdir2@240:9:u cdepth2@249:5:u cspeed3@254:8:U:10th cdir3@262:9:u '
        'cdepth3@271:5:u waveheight@276:8:U:10th waveperiod@284:6:u wavedir@290:9:u swellheight@299:8:U:10th '
        'swellperiod@307:6:u swelldir@313:9:u seastate@322:4:u watertemp@326:10:I:10th preciptype@336:3:u '
        'salinity@339:9:U:10th ice@348:2:u'),
    ('8Dac200Fid10', 8,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u dac@40:10:u fid@50:6:u vin@56:48:s length@104:13:U:10th '
        'beam@117:10:U:10th shiptype@127:14:u hazard@141:3:u draught@144:11:U:100th '
        'loaded@155:2:u:enumInlandLoadedType speed_q@157:1:b course_q@158:1:b heading_q@159:1:b'),
    ('8Dac200Fid23', 8,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u dac@40:10:u fid@50:6:u start_year@56:8:u start_month@64:4:u '
        'start_day@68:5:u end_year@73:8:u end_month@81:4:u end_day@85:5:u start_hour@90:5:u '
        'start_minute@95:6:u end_hour@101:5:u end_minute@106:6:u start_lon@112:28:I:deg '
        'start_lat@140:27:I:deg end_lon@167:28:I:deg end_lat@195:27:I:deg type@222:4:u:enumEMMATypeCodes '
        'min@226:9:i max@235:9:i intensity@244:2:u wind@246:4:u:enumEMMAWinds'),
    ('8Dac200Fid24', 8,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u dac@40:10:u fid@50:6:u country@56:12:s gauge_id_1@68:11:u '
        'water_level_1@79:14:i gauge_id_2@93:11:u water_level_2@104:14:i gauge_id_3@118:11:u '
        'water_level_3@129:14:i gauge_id_4@143:11:u water_level_4@154:14:i'),
    ('8Dac200Fid40', 8,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u dac@40:10:u fid@50:6:u lon@56:28:I:deg lat@84:27:I:deg '
        'form@111:4:u facing@115:9:u direction@124:3:u:enumSignalImpact status_raw@127:30:u'),
    ('8Dac367Fid33', 8,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u dac@40:10:u fid@50:6:u reports_data@56:896:x'),
    ('10', 10,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u dest_mmsi@40:30:u'),
    ('12', 12,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u seqno@38:2:u dest_mmsi@40:30:u retransmit@70:1:b '
        'text@72:936:s'),
    ('13', 13,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u mmsi1@40:30:u mmsiseq1@70:2:u mmsi2@72:30:u mmsiseq2@102:2:u '
        'mmsi3@104:30:u mmsiseq3@134:2:u mmsi4@136:30:u mmsiseq4@166:2:u'),
    ('15', 15,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u mmsi1@40:30:u type1_1@70:6:u offset1_1@76:12:u '
        'type1_2@90:6:u offset1_2@96:12:u mmsi2@110:30:u type2_1@140:6:u offset2_1@146:12:u'),
    ('16DestinationA', 16,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u mmsi1@40:30:u offset1@70:12:u increment1@82:10:u'),
    ('16DestinationAB', 16,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u mmsi1@40:30:u offset1@70:12:u increment1@82:10:u '
        'mmsi2@92:30:u offset2@122:12:u increment2@134:10:u'),
    ('17', 17,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u lon@40:18:U:10th lat@58:17:U:10th data@80:736:x'),
    ('20', 20,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u offset1@40:12:u number1@52:4:u timeout1@56:3:u '
        'increment1@59:11:u offset2@70:12:u number2@82:4:u timeout2@86:3:u increment2@89:11:u '
        'offset3@100:12:u number3@112:4:u timeout3@116:3:u increment3@119:11:u offset4@130:12:u '
        'number4@142:4:u timeout4@146:3:u increment4@149:11:u'),
    ('22Addressed', 22,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u channel_a@40:12:u channel_b@52:12:u txrx@64:4:u power@68:1:b '
        'dest1@69:30:u empty_1@99:5:u dest2@104:30:u empty_2@134:5:u addressed@139:1:b band_a@140:1:b '
        'band_b@141:1:b zonesize@142:3:u'),
    ('22Broadcast', 22,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u channel_a@40:12:u channel_b@52:12:u txrx@64:4:u power@68:1:b '
        'ne_lon@69:18:I:10th ne_lat@87:17:I:10th sw_lon@104:18:I:10th sw_lat@122:17:I:10th addressed@139:1:b '
        'band_a@140:1:b band_b@141:1:b zonesize@142:3:u'),
    ('23', 23,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u ne_lon@40:18:I:10th ne_lat@58:17:I:10th sw_lon@75:18:I:10th '
        'sw_lat@93:17:I:10th station_type@110:4:u:enumStationType ship_type@114:8:u:enumShipType '
        'txrx@144:2:u:enumTransmitMode interval@146:4:u:enumStationIntervals quiet@150:4:u'),
    ('25AddressedStructured', 25,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u addressed@38:1:b structured@39:1:b dest_mmsi@40:30:u '
        'app_id@70:16:u data@86:82:x'),
    ('25AddressedUnstructured', 25,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u addressed@38:1:b structured@39:1:b dest_mmsi@40:30:u '
        'data@70:98:x'),
    ('25BroadcastStructured', 25,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u addressed@38:1:b structured@39:1:b app_id@40:16:u '
        'data@56:112:x'),
    ('25BroadcastUnstructured', 25,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u addressed@38:1:b structured@39:1:b data@40:128:x'),
    ('26AddressedStructured', 26,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u addressed@38:1:b structured@39:1:b dest_mmsi@40:30:u '
        'app_id@70:16:u data@86:958:x radio@1044:20:u'),
    ('26AddressedUnstructured', 26,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u addressed@38:1:b structured@39:1:b dest_mmsi@40:30:u '
        'app_id@70:16:u data@86:958:x radio@1044:20:u'),
    ('26BroadcastStructured', 26,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u addressed@38:1:b structured@39:1:b app_id@40:16:u '
        'data@56:988:x radio@1044:20:u'),
    ('26BroadcastUnstructured', 26,
        'msg_type@0:6:u repeat@6:2:u mmsi@8:30:u addressed@38:1:b structured@39:1:b data@40:1004:x '
        'radio@1044:20:u'),
)  # fmt: skip

ENUMS: dict[str, tuple[int, ...]] = {
    'SOLASStatus': (0, 1, 2, 3),
    'IceClass': (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 15, 15, 15, 15),
    'InlandLoadedType': (0, 1, 2, 3),
    'EMMATypeCodes': (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0, 0, 0, 0),
    'EMMAWinds': (0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0),
    'SignalImpact': (0, 1, 2, 3, 4, 0, 0, 0),
    'StationType': (0, 1, 2, 3, 4, 5, 6, 6, 6, 6, 1, 1, 1, 1, 1, 1),
    'ShipType': (
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 21, 22, 23, 24, 25, 25, 25, 25, 29, 30,
        31, 32, 33, 34, 35, 36, 37, 0, 0, 40, 41, 42, 43, 44, 45, 45, 45, 45, 49, 50, 51, 52, 53, 54, 55, 56,
        56, 58, 59, 60, 61, 62, 63, 64, 65, 65, 65, 65, 69, 70, 71, 72, 73, 74, 75, 75, 75, 75, 79, 80, 81, 82,
        83, 84, 85, 85, 85, 85, 89, 90, 91, 92, 93, 94, 95, 95, 95, 95, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0
    ),
    'TransmitMode': (0, 1, 2, 3),
    'StationIntervals': (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 11, 11, 11, 11),
}  # fmt: skip
